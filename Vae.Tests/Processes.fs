/// The runner as a process, for the tests that run it as a user does (HostileTests, ShardTests):
/// started, waited for, signalled, its output and its run folder checked.
module Vae.Tests.Processes

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open Vae.Tests.Shared

/// A runner process, its output lines collected as they come.
type Running =
    { Process: Process
      Output: ConcurrentQueue<string>
      Error: ConcurrentQueue<string> }

type Outcome =
    { ExitCode: int
      Output: string list
      Error: string list }

    member o.FirstError = o.Error |> List.tryHead |> Option.defaultValue ""

/// Starts `dotnet Vae.Experiments.dll arguments`, behind `prefix` (e.g. taskset) when given.
let start (prefix: string list) (arguments: string list) : Running =
    let runner = [ "dotnet"; Path.Combine(AppContext.BaseDirectory, "Vae.Experiments.dll") ]
    let command = prefix @ runner @ arguments
    let info = ProcessStartInfo(List.head command, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Environment.CurrentDirectory)
    for a in List.tail command do info.ArgumentList.Add a
    let p = new Process(StartInfo = info)
    let output, error = ConcurrentQueue<string>(), ConcurrentQueue<string>()
    p.OutputDataReceived.Add(fun e -> if not (isNull e.Data) then output.Enqueue e.Data)
    p.ErrorDataReceived.Add(fun e -> if not (isNull e.Data) then error.Enqueue e.Data)
    p.Start() |> ignore
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    { Process = p; Output = output; Error = error }

/// Waits for the process (a hang fails the test: the process is killed after `minutes`).
let finish (minutes: float) (r: Running) : Outcome =
    let exited = r.Process.WaitForExit(TimeSpan.FromMinutes minutes)
    if not exited then r.Process.Kill true
    r.Process.WaitForExit()
    Expect.isTrue exited $"the runner finished within {minutes} min (it hung; output: {String.Join(Environment.NewLine, r.Output)})"
    { ExitCode = r.Process.ExitCode; Output = List.ofSeq r.Output; Error = List.ofSeq r.Error }

let run (arguments: string list) = start [] arguments |> finish 5.0

/// Waits until a line of the output satisfies `predicate`.
let waitForLine (minutes: float) (predicate: string -> bool) (r: Running) =
    let clock = Stopwatch.StartNew()
    while not (r.Output |> Seq.exists predicate) && not r.Process.HasExited && clock.Elapsed < TimeSpan.FromMinutes minutes do
        Threading.Thread.Sleep 50
    Expect.isTrue (r.Output |> Seq.exists predicate) $"the expected line appeared (output: {String.Join(Environment.NewLine, r.Output)}; stderr: {String.Join(Environment.NewLine, r.Error)})"

let signal (name: string) (p: Process) =
    use kill = Process.Start("kill", [ $"-{name}"; string p.Id ])
    kill.WaitForExit()

/// Exit code 2, one line on stderr that contains `expected`, and no stack trace.
let refused (expected: string) (o: Outcome) =
    Expect.equal o.ExitCode 2 $"exit code 2 (stderr: {String.Join(Environment.NewLine, o.Error)})"
    Expect.hasLength o.Error 1 $"one line on stderr: {String.Join(Environment.NewLine, o.Error)}"
    Expect.stringContains o.FirstError expected "the line names the problem"

/// What a folder holds, names only, hidden entries included.
let entries (dir: string) =
    if Directory.Exists dir then Directory.GetFileSystemEntries dir |> Array.map Path.GetFileName |> Array.sort |> List.ofArray else []

/// `run.json`'s status.
let status (folder: string) =
    use document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "run.json")))
    document.RootElement.GetProperty("status").GetString()

/// Every file under `folder` (relative path → MD5), the writes' temporary files included.
let fileHashes (folder: string) =
    [ for file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories) ->
          Path.GetRelativePath(folder, file), Convert.ToHexString(Security.Cryptography.MD5.HashData(File.ReadAllBytes file)) ]
    |> Map.ofList

/// A results.json without its timings (keys ending in "seconds", and startedUtc) and how many models
/// ran at once (lanes: a sharded run's are its shards).
let withoutTimings (path: string) =
    let rec strip (node: Nodes.JsonNode) =
        match node with
        | :? Nodes.JsonObject as o ->
            for key in [ for kv in o -> kv.Key ] do
                if key.ToLowerInvariant().EndsWith "seconds" || key = "startedUtc" || key = "lanes" then o.Remove key |> ignore else strip o[key]
        | :? Nodes.JsonArray as a -> for item in a do strip item
        | _ -> ()
    let node = Nodes.JsonNode.Parse(File.ReadAllText path)
    strip node
    node.ToJsonString()

/// A CSV file of the run without its timing columns (those whose name ends in "seconds"), as rows of cells. The
/// runs compared hold no name that CSV quotes: a row splits at its commas.
let csvWithoutTimings (path: string) =
    let rows = File.ReadAllLines path |> Array.map (fun line -> line.Split ',')
    let kept = rows.[0] |> Array.mapi (fun i column -> i, column) |> Array.filter (fun (_, c) -> not (c.ToLowerInvariant().EndsWith "seconds")) |> Array.map fst
    [ for row in rows -> [ for i in kept -> row.[i] ] ]

/// A job file's header and data without the job's seconds (`__metadata__.seconds`): what a measurement's or an
/// IWAE estimate's file (JobStore) holds besides its time.
let jobFileWithoutSeconds (path: string) =
    let bytes = File.ReadAllBytes path
    let length = int (BitConverter.ToUInt64(bytes, 0))
    let header = Nodes.JsonNode.Parse(Text.Encoding.UTF8.GetString(bytes, 8, length)).AsObject()
    match header.["__metadata__"] with
    | :? Nodes.JsonObject as metadata -> metadata.Remove "seconds" |> ignore
    | _ -> ()
    header.ToJsonString(), Convert.ToHexString(Security.Cryptography.SHA256.HashData(ReadOnlySpan(bytes, 8 + length, bytes.Length - 8 - length)))

/// Checks that the run in `folder` is complete with the numbers and files of the run in `reference`:
/// the same files; results.json (the run's and each experiment's) equal but for timings; every other
/// file byte for byte, but for the report's text (which gives job times), run.json, the
/// training records (which keep each training's seconds), the measurements' and estimates' files
/// (compared without their seconds), epochs.csv and metrics.csv (compared without their seconds) and the TensorBoard event files (timings throughout: compared by name).
/// A sharded run's records of its shards and cluster scripts (shards/, slurm/) are not compared.
let sameRun (reference: string) (folder: string) (what: string) =
    Expect.equal (status folder) "complete" $"{what}: run.json says complete"
    let ofRun (files: Map<string, string>) = files |> Map.filter (fun file _ -> not (file.StartsWith "shards/" || file.StartsWith "slurm/"))
    let expected, actual = ofRun (fileHashes reference), ofRun (fileHashes folder)
    Expect.equal (Set.ofSeq actual.Keys) (Set.ofSeq expected.Keys) $"{what}: the same files"
    for KeyValue(file, hash) in expected do
        let name = Path.GetFileName file
        if name = "results.json" then
            Expect.equal (withoutTimings (Path.Combine(folder, file))) (withoutTimings (Path.Combine(reference, file))) $"{what}: {file} equal, timings aside"
        elif name = "epochs.csv" || name = "metrics.csv" then
            Expect.equal (csvWithoutTimings (Path.Combine(folder, file))) (csvWithoutTimings (Path.Combine(reference, file))) $"{what}: {file} equal, timings aside"
        elif file.StartsWith "tensorboard" then
            // Each epoch's seconds and a wall time from the run's start, so timings throughout; the files are written
            // from results.json's numbers, compared above (ExportsTests checks that they hold them).
            ()
        elif name = "measure.safetensors" || name = "likelihood.safetensors" then
            Expect.equal (jobFileWithoutSeconds (Path.Combine(folder, file))) (jobFileWithoutSeconds (Path.Combine(reference, file))) $"{what}: {file} equal, its seconds aside"
        elif not (List.contains name [ "run.json"; "report.md"; "report.html"; "train.safetensors" ]) then
            Expect.equal actual.[file] hash $"{what}: {file} byte for byte"

