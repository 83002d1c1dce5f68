/// scripts/tour.fsx run by F# Interactive as a user runs it after a build: TorchSharp from the NuGet
/// packages folder (`#r "nuget: …"`), Vae.Core from its build output.
module Vae.Tests.ScriptTests

open System
open System.Diagnostics
open System.IO
open Expecto
open Vae.Core
open Vae.Tests.Shared

[<Tests>]
let tests =
    testList "Scripts" [
        test "dotnet fsi scripts/tour.fsx trains, evaluates, saves and reloads, finding TorchSharp's native libraries in the NuGet packages folder" {
            let root = repository ()
            let cache = temporaryDirectory ()
            let packages =
                Environment.GetEnvironmentVariable "NUGET_PACKAGES" |> Option.ofObj
                |> Option.defaultWith (fun () -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages"))
            let torchSharp = Path.Combine(packages, "torchsharp", "0.107.0")
            let before = Directory.GetFileSystemEntries(torchSharp, "*", SearchOption.AllDirectories) |> Set.ofArray
            let info = ProcessStartInfo("dotnet", WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true)
            for a in [ "fsi"; "scripts/tour.fsx" ] do info.ArgumentList.Add a
            info.Environment.["XDG_CACHE_HOME"] <- cache
            use p = Process.Start info
            let output = p.StandardOutput.ReadToEndAsync()
            let error = p.StandardError.ReadToEndAsync()
            if not (p.WaitForExit(TimeSpan.FromMinutes 10.0)) then
                p.Kill true
                failtest "dotnet fsi did not finish within 10 min"
            p.WaitForExit()
            Expect.equal p.ExitCode 0 $"the script ran: {output.Result}{error.Result}"
            for part in [ "data: 60,000 training and 10,000 test images"; "epoch 1: training loss "; "reloaded from "; "tour: done" ] do
                Expect.stringContains output.Result part $"it printed {part}"
            // TorchSharp's own fallback would copy 478 MB of libtorch into the packages folder; the
            // patched shim goes to the per-user cache instead.
            let after = Directory.GetFileSystemEntries(torchSharp, "*", SearchOption.AllDirectories) |> Set.ofArray
            Expect.equal (after - before) Set.empty "nothing written into the NuGet packages folder"
            let patched = Directory.GetFiles(cache, Engine.PatchedShimFile, SearchOption.AllDirectories)
            // Debian 12's libstdc++ (GCC 12) lacks the version the shim asks for: there the copy must be in the cache.
            let libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
            if File.Exists libstdcxx && not (Text.Encoding.ASCII.GetString(File.ReadAllBytes libstdcxx).Contains Engine.WeakenableVersion) then
                Expect.hasLength patched 1 "the patched shim is in the per-user cache"
        }
    ]
