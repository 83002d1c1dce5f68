/// The libraries as a user outside this repository takes them: packed (`dotnet pack`), installed
/// from a local folder feed into a fresh console project (`dotnet new console`, `dotnet add
/// package`), and the README's C# program run there verbatim.
module Vae.Tests.PackageTests

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open Expecto
open Vae.Tests.Shared

/// The README's C# block under "## Use it from C#".
let private readmeProgram (root: string) =
    let lines = File.ReadAllLines(Path.Combine(root, "README.md"))
    let section = lines |> Array.findIndex (fun l -> l = "## Use it from C#")
    let start = section + (lines |> Array.skip section |> Array.findIndex (fun l -> l = "```csharp"))
    let length = lines |> Array.skip (start + 1) |> Array.findIndex (fun l -> l = "```")
    String.Join("\n", lines.[start + 1 .. start + length]) + "\n"

/// Runs `dotnet arguments` in `folder` with `environment`; its exit code and output.
let private dotnet (folder: string) (environment: (string * string) list) (minutes: float) (arguments: string list) =
    let info = ProcessStartInfo("dotnet", WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true)
    for a in arguments do info.ArgumentList.Add a
    for name, value in environment do info.Environment.[name] <- value
    use p = Process.Start info
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(TimeSpan.FromMinutes minutes)) then
        p.Kill true
        failtest $"dotnet {String.Join(' ', arguments)} did not finish within {minutes} min"
    p.WaitForExit()
    p.ExitCode, output.Result, error.Result

[<Tests>]
let tests =
    testList "Package" [
        test "the packed libraries install into a fresh console project outside the repository, which runs the README's C# program" {
            let root = repository ()
            let work = temporaryDirectory ()
            let feed = Path.Combine(work, "feed")
            // A version of its own: the NuGet cache keeps a package by id and version, and must not
            // hand this test an older build of the same version.
            let version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}"
            let cached = [ "vae.core"; "vae.reporting"; "vae.facade" ]
            let packages = Environment.GetEnvironmentVariable "NUGET_PACKAGES" |> Option.ofObj |> Option.defaultWith (fun () ->
                Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages"))
            try
                let code, output, error = dotnet root [] 10.0 [ "pack"; "Vae.sln"; "-c"; "Release"; "--no-build"; "-o"; feed; $"-p:Version={version}" ]
                Expect.equal code 0 $"dotnet pack: {output}{error}"
                let packed = Directory.GetFiles(feed) |> Array.map Path.GetFileName |> Array.sort
                Expect.equal packed
                    [| for id in [ "Vae.Core"; "Vae.Facade"; "Vae.Reporting" ] do
                           yield $"{id}.{version}.nupkg"
                           yield $"{id}.{version}.snupkg" |]
                    "the three libraries with their symbols; not the runner, the sample or the tests"
                use facade = ZipFile.OpenRead(Path.Combine(feed, $"Vae.Facade.{version}.nupkg"))
                let nuspec = facade.Entries |> Seq.find (fun e -> e.FullName.EndsWith ".nuspec")
                let text = (new StreamReader(nuspec.Open())).ReadToEnd()
                for part in [ "<license type=\"expression\">MIT</license>"; "<readme>README.md</readme>"; $"<dependency id=\"Vae.Core\" version=\"{version}\"" ] do
                    Expect.stringContains text part $"the nuspec has {part}"
                Expect.exists facade.Entries (fun e -> e.FullName = "README.md") "the readme is in the package"

                let app = Path.Combine(work, "app")
                Directory.CreateDirectory app |> ignore
                let code, output, error = dotnet app [] 5.0 [ "new"; "console"; "--framework"; "net10.0" ]
                Expect.equal code 0 $"dotnet new console: {output}{error}"
                // Only the local feed: every other package (TorchSharp, …) is already in the NuGet cache.
                let config = [ "<configuration><packageSources>"; $"<add key=\"local\" value=\"{feed}\" />"; "</packageSources></configuration>" ]
                File.WriteAllText(Path.Combine(app, "nuget.config"), String.Join("\n", config))
                let code, output, error = dotnet app [] 10.0 [ "add"; "package"; "Vae.Facade"; "--version"; version ]
                Expect.equal code 0 $"dotnet add package: {output}{error}"
                File.WriteAllText(Path.Combine(app, "Program.cs"), readmeProgram root)
                // The data from the repository's copy; the shipped definitions come from inside the library.
                let environment = [ "FASHION_MNIST_DIR", Path.Combine(root, "data", "fashion-mnist"); "XDG_CACHE_HOME", Path.Combine(work, "cache") ]
                let code, output, error = dotnet app environment 15.0 [ "run"; "-c"; "Release" ]
                Expect.equal code 0 $"the README's program ran: {output}{error}"
                for part in [ "epoch 1: "; "test loss "; "9 codes of 20; 9 images"; ": best "; "shard 1/2: "; "shard 2/2: "; "merged: True" ] do
                    Expect.stringContains output part $"it printed {part}"
                Expect.isFalse (error.Contains "Debug build") "a package is a Release build: no warning"
                Expect.isTrue (File.Exists(Path.Combine(app, "five-layer.safetensors"))) "the model saved"
                Expect.isTrue (File.Exists(Path.Combine(app, "shared-run", "results.json"))) "the sharded run merged"
                Expect.isTrue (File.Exists(Path.Combine(work, "cache", "vae-dotnet", "experiments", "0.1.0", "task1.json"))) "task1 came from the library"
            finally
                for id in cached do
                    let dir = Path.Combine(packages, id, version.ToLowerInvariant())
                    if Directory.Exists dir then Directory.Delete(dir, true)
        }
    ]
