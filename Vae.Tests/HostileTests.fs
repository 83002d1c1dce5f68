/// The catalogue of hostile and unlucky conditions found against the runner (issue 10): each case runs
/// the real runner process and checks its exit code, its first line on stderr and what is on disk.
module Vae.Tests.HostileTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open Vae.Tests.Shared
open Vae.Tests.Processes

/// `task1 --quick`, run once without interruption: what every interrupted and resumed run must equal.
let private reference =
    lazy (
        let folder = Path.Combine(temporaryDirectory (), "reference")
        let o = start [] [ "run"; "task1"; "--quick"; "--out"; folder ] |> finish 5.0
        Expect.equal o.ExitCode 0 $"the reference run completes (stderr: {o.FirstError})"
        folder)

/// The command an interrupted run printed, run by a shell.
let private runPrinted (line: string) =
    let marker = "continue with: "
    Expect.stringContains line marker "the message gives the command"
    let command = line.Substring(line.IndexOf marker + marker.Length)
    use shell = Process.Start(ProcessStartInfo("sh", [ "-c"; command + " > /dev/null" ], RedirectStandardError = true))
    let error = shell.StandardError.ReadToEnd()
    shell.WaitForExit()
    Expect.equal shell.ExitCode 0 $"{command}: exit 0 (stderr: {error})"

/// A definition file in `dir`.
let private definition (dir: string) (name: string) (learningRate: string) (epochs: int) (models: string) =
    let path = Path.Combine(dir, name + ".json")
    File.WriteAllText(
        path,
        $"""{{ "name": "{name}", "data": {{ "validationSize": 5000, "splitSeed": 42 }},
              "training": {{ "maxEpochs": {epochs}, "batchSize": 64, "learningRate": {learningRate}, "seed": 1 }},
              "models": {models} }}""")
    path

let private oneVae = """[ { "name": "a", "kind": "vae", "hidden": [ 400 ], "latent": 20 } ]"""

/// A study in `dir` of an experiment that diverges (learning rate 10⁶, one epoch), then a stable one
/// of `epochs` epochs; its path.
let private unstableThenStable (dir: string) (epochs: int) =
    definition dir "unstable" "1e6" 1 oneVae |> ignore
    definition dir "stable" "0.001" epochs oneVae |> ignore
    let study = Path.Combine(dir, "both.json")
    File.WriteAllText(study, """{ "name": "both", "experiments": [ "unstable", "stable" ] }""")
    study

/// Busy-loop processes on every core for `seconds` (the machine busy while the runner starts).
let private busyCores (seconds: int) =
    [ for _ in 1 .. Environment.ProcessorCount ->
          Process.Start("timeout", [ string seconds; "sh"; "-c"; "while :; do :; done" ]) ]

/// A tmpfs of `megabytes` mounted on a new folder, or None when this process may not mount.
let private tmpfs (megabytes: int) =
    let dir = temporaryDirectory ()
    use mount = Process.Start(ProcessStartInfo("mount", [ "-t"; "tmpfs"; "-o"; $"size={megabytes}m"; "tmpfs"; dir ], RedirectStandardError = true))
    mount.WaitForExit()
    if mount.ExitCode = 0 then Some dir else None

let private unmount (dir: string) =
    use p = Process.Start("umount", [ dir ])
    p.WaitForExit()

let private results (folder: string) = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "results.json")))

[<Tests>]
let tests =
    testSequenced <| testList "Hostile" [
        // Bad: hangs, crashes, data in the wrong place, silently wrong results.
        test "1. run starts and finishes on one CPU (taskset -c 0), where it used to deadlock" {
            for attempt in 1 .. 2 do
                let folder = Path.Combine(temporaryDirectory (), "out")
                let o = start [ "taskset"; "-c"; "0" ] [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ] |> finish 4.0
                Expect.equal o.ExitCode 0 $"attempt {attempt}: exit code 0 (stderr: {o.FirstError})"
                Expect.isTrue (File.Exists(Path.Combine(folder, "results.json"))) "the run is complete"
        }

        test "1. run starts and finishes while every core is busy" {
            let folder = Path.Combine(temporaryDirectory (), "out")
            let busy = busyCores 5
            let o = run [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ]
            for p in busy do p.Kill(); p.Dispose()
            Expect.equal o.ExitCode 0 $"exit code 0 (stderr: {o.FirstError})"
        }

        test "1. two runs into the same --out at once: one completes, the other is refused at once" {
            let dir = temporaryDirectory ()
            let folder = Path.Combine(dir, "out")
            let first = start [] [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ]
            first |> waitForLine 2.0 (fun l -> l.Contains "epoch 1/1")
            let second = run [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ]
            refused $"output folder {folder}: is in use by another run" second
            let first = finish 4.0 first
            Expect.equal first.ExitCode 0 $"the first run completes (stderr: {first.FirstError})"
            Expect.isTrue (File.Exists(Path.Combine(folder, "results.json"))) "its folder is complete"
            Expect.equal (entries dir) [ "out" ] "nothing beside it"
        }

        test "2. Ctrl-C during training, measurement or report writing: exit 130, the run marked interrupted, and the command it prints resumes it" {
            let dir = temporaryDirectory ()
            let full = definition dir "measured" "0.001" 1 oneVae
            let phases =
                [ "training", [ "run"; "task1"; "--quick" ], (fun (l: string) -> l.Contains "epoch 1/2"), 0
                  // A full-size measurement (IWAE with 1,000 samples on 1,000 images) takes many seconds.
                  "measurement", [ "run"; full ], (fun l -> l.Contains "epoch 1/1"), 1500
                  "report writing", [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--lanes"; "1" ], (fun l -> l.Contains "five-layer repeat 1: done"), 0 ]
            for phase, arguments, marker, delay in phases do
                let folder = Path.Combine(dir, $"out-{phase.Replace(' ', '-')}")
                // Ctrl-C as a terminal sends it: a runner started from a background job (`bash .ci/run &`)
                // inherits SIGINT ignored, as the shell sets it, and .NET (rightly) keeps it ignored.
                let r = start [ "env"; "--default-signal=INT" ] (arguments @ [ "--out"; folder ])
                r |> waitForLine 3.0 marker
                Threading.Thread.Sleep delay
                signal "INT" r.Process
                let o = finish 2.0 r
                if phase = "report writing" && o.ExitCode = 0 then
                    // The report may be written before the signal arrives: then the run is whole.
                    Expect.equal (status folder) "complete" "a run that finished is complete"
                else
                    Expect.equal o.ExitCode 130 $"{phase}: exit code 130 (stderr: {String.Join(Environment.NewLine, o.Error)})"
                    let last = List.last o.Error
                    Expect.stringStarts last $"interrupted: finished jobs and each training's last epoch are saved in {folder}" $"{phase}: says where"
                    Expect.equal (status folder) "interrupted" $"{phase}: run.json says interrupted"
                    runPrinted last
                    if phase = "training" then sameRun reference.Value folder "resumed after Ctrl-C"
                    else Expect.equal (status folder) "complete" $"{phase}: resumed to the end"
        }

        test "3. a symbolic link planted beside --out is neither followed nor removed, and --out itself may not be a link" {
            let dir = temporaryDirectory ()
            let victim = temporaryDirectory ()
            let folder = Path.Combine(dir, "out")
            // The names the staging folder had before (pid-based) and one of today's shape.
            for name in [ for pid in 1 .. 50 -> $".out.incomplete-{pid}" ] @ [ ".out.incomplete-0000000000000000" ] do
                File.CreateSymbolicLink(Path.Combine(dir, name), victim) |> ignore
            let o = run [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ]
            Expect.equal o.ExitCode 0 $"the run completes (stderr: {o.FirstError})"
            Expect.isEmpty (entries victim) "nothing was written through a link"
            Expect.equal (entries dir |> List.filter (fun e -> e.Contains "incomplete") |> List.length) 51 "the links are left alone"
            let link = Path.Combine(dir, "link")
            Directory.CreateSymbolicLink(link, victim) |> ignore
            refused $"output folder {link}: is a symbolic link" (run [ "run"; "task1"; "--quick"; "--out"; link ])
            Expect.isEmpty (entries victim) "nothing written there either"
        }

        test "4. a diverging model is marked diverged, never best; the run exits 3 when every model diverged" {
            let dir = temporaryDirectory ()
            let folder = Path.Combine(dir, "out")
            let o = run [ "run"; definition dir "unstable" "1e6" 2 oneVae; "--quick"; "--out"; folder ]
            Expect.equal o.ExitCode 3 $"exit code 3 (stderr: {String.Join(Environment.NewLine, o.Error)})"
            Expect.stringContains o.FirstError "warning: unstable/a repeat 1 diverged in epoch 1" "a warning on stderr"
            let text = File.ReadAllText(Path.Combine(folder, "results.json"))
            Expect.isFalse (text.Contains "NaN" || text.Contains "Infinity") "no NaN or Infinity in results.json"
            use r = results folder
            let e = r.RootElement.GetProperty("experiments").[0]
            Expect.equal (e.GetProperty("best").ValueKind) JsonValueKind.Null "no best model"
            Expect.equal (e.GetProperty("models").GetArrayLength()) 0 "no measured model"
            Expect.equal (e.GetProperty("diverged").[0].GetProperty("repeats").[0].GetProperty("divergedAtEpoch").GetInt32()) 1 "diverged in epoch 1"
            Expect.stringContains (File.ReadAllText(Path.Combine(folder, "report.md"))) "Every model diverged." "the report says so"
        }

        test "4. the rest of a run goes on past a diverging model, and the run exits 0" {
            let dir = temporaryDirectory ()
            let study = unstableThenStable dir 1
            let folder = Path.Combine(dir, "out")
            let o = run [ "run"; study; "--quick"; "--out"; folder ]
            Expect.equal o.ExitCode 0 $"exit code 0 (stderr: {String.Join(Environment.NewLine, o.Error)})"
            Expect.stringContains o.FirstError "warning: unstable/a repeat 1 diverged" "warned"
            Expect.isTrue (o.Output |> List.exists (fun l -> l.StartsWith "stable: best a")) "the stable experiment has a best model"
            Expect.isTrue (o.Output |> List.exists (fun l -> l = "unstable: every model diverged")) "the unstable one has none"
            Expect.isTrue (File.Exists(Path.Combine(folder, "stable", "a", "model.safetensors"))) "the stable model's checkpoint"
        }

        // Poor: stack traces, unclear messages, leftovers.
        test "--out \"\", --data \"\", an unknown command and no command: one clear line, exit 2" {
            refused "--out: must not be empty" (run [ "run"; "task1"; "--out"; "" ])
            refused "--data: must not be empty" (run [ "run"; "task1"; "--data"; "" ])
            refused "unknown command 'trian' (commands: run, resume, merge, slurm, k8s, list, bench, sample, reconstruct)" (run [ "trian"; "task1" ])
            refused "no command given" (run [])
        }

        test "a full disk is refused before training, and the folders a refused run made are removed" {
            match tmpfs 2 with
            | None -> skiptest "needs root and mount(8) for a small tmpfs"
            | Some disk ->
                try
                    let folder = Path.Combine(disk, "a", "b", "out")
                    refused $"output folder {folder}: has" (run [ "run"; "task1"; "--quick"; "--out"; folder ])
                    Expect.isEmpty (entries disk) "no parent folders left behind"
                finally unmount disk
        }

        test "a disk that fills up during the run: one line naming the output folder, exit 2; resumed once there is space, the run completes" {
            // The run needs about 54 MB (two training states of 13 MB, checkpoints, pictures, the report).
            match tmpfs 80 with
            | None -> skiptest "needs root and mount(8) for a small tmpfs"
            | Some disk ->
                try
                    let folder = Path.Combine(disk, "out")
                    let r = start [] [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--out"; folder ]
                    r |> waitForLine 3.0 (fun l -> l.Contains "epoch 1/1")
                    // Another program takes the space.
                    let filler = Path.Combine(disk, "filler")
                    let fill () =
                        try File.WriteAllBytes(filler, Array.zeroCreate (80 * 1024 * 1024)) with :? IOException -> ()
                    fill ()
                    let o = finish 3.0 r
                    refused $"output folder {folder}: could not be written" o
                    Expect.stringContains o.FirstError "No space left on device" "says why"
                    Expect.isEmpty (Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories)) "no half-written file left"
                    File.Delete filler
                    let resumed = run [ "resume"; folder ]
                    Expect.equal resumed.ExitCode 0 $"resumed, it completes (stderr: {resumed.FirstError})"
                    Expect.equal (status folder) "complete" "and says so"
                finally unmount disk
        }

        test "data that would exhaust memory or never end is refused in one line: a gzip bomb, an overflowing IDX header, /dev/zero" {
            let source = Vae.Core.FashionMnist.locate None
            let cases =
                [ "a gzip bomb (128 MB of zeros in 0.1 MB, as the training images)",
                  Vae.Core.FashionMnist.trainImages,
                  (fun (file: string) ->
                      use output = File.Create file
                      use zip = new Compression.GZipStream(output, Compression.CompressionLevel.Optimal)
                      let zeros = Array.zeroCreate<byte> (1024 * 1024)
                      for _ in 1 .. 128 do zip.Write(zeros, 0, zeros.Length)),
                  "decompresses to more than 47040016 bytes"
                  "an overflowing IDX header",
                  Vae.Core.FashionMnist.testLabels,
                  (fun file -> File.WriteAllBytes(file, Vae.Core.Idx.gzip [| 0uy; 0uy; 8uy; 3uy; 127uy; 255uy; 255uy; 255uy; 127uy; 255uy; 255uy; 255uy; 127uy; 255uy; 255uy; 255uy |])),
                  "describe 9903520300447984150353281023 data bytes"
                  "/dev/zero", Vae.Core.FashionMnist.testLabels, (fun file -> File.Delete file; File.CreateSymbolicLink(file, "/dev/zero") |> ignore),
                  "is not a regular file (a character device)" ]
            for name, (file: Vae.Core.FashionMnist.OfficialFile), spoil, expected in cases do
                let dir = temporaryDirectory ()
                for f in Vae.Core.FashionMnist.officialFiles do File.Copy(Path.Combine(source, f.Name), Path.Combine(dir, f.Name))
                spoil (Path.Combine(dir, file.Name))
                let folder = Path.Combine(dir, "out")
                let clock = Stopwatch.StartNew()
                refused expected (run [ "run"; "task1"; "--quick"; "--data"; dir; "--out"; folder ])
                Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 $"{name}: refused without reading it all"
                Expect.isFalse (Directory.Exists folder) $"{name}: no output folder"
        }

        test "definitions that would hang, exhaust memory or fail after training are refused before it, in one line" {
            let dir = temporaryDirectory ()
            let write name (text: string) =
                let path = Path.Combine(dir, name + ".json")
                File.WriteAllText(path, text)
                path
            let models (hidden: string) (latent: int) = $"""[ {{ "name": "a", "kind": "vae", "hidden": {hidden}, "latent": {latent} }} ]"""
            let many = "[" + String.Join(", ", List.init 40_000 (fun i -> $"""{{ "name": "m{i}", "kind": "vae", "hidden": [4], "latent": 2 }}""")) + "]"
            definition dir "autoencoders" "0.001" 1 """[ { "name": "a", "kind": "ae", "hidden": [4], "latent": 2 } ]""" |> ignore
            File.WriteAllText(Path.Combine(dir, "misnamed.json"), File.ReadAllText(definition dir "other" "0.001" 1 oneVae))
            let cases =
                [ "/dev/zero as the definition", [ "run"; "/dev/zero" ], "/dev/zero: is larger than 1 MB"
                  "a duplicate key", [ "run"; (definition dir "dup" "0.001" 1 oneVae |> fun p -> write "dup" (File.ReadAllText(p).Replace("\"seed\": 1", "\"seed\": 1, \"seed\": 2"))) ], "dup.json: training.seed: appears twice"
                  "2.6 MB of models", [ "run"; definition dir "many" "0.001" 1 many ], "many.json: is larger than 1 MB"
                  "hidden [20000, 20000]", [ "run"; definition dir "big" "0.001" 1 (models "[20000, 20000]" 20) ], "VAE 784-20000-20000-20 has 832,640,824 parameters; training it needs about"
                  "hidden [100000, 100000]", [ "run"; definition dir "huge" "0.001" 1 (models "[100000, 100000]" 20) ], "VAE 784-100000-100000-20 has"
                  "a 300-character name", [ "run"; definition dir "long" "0.001" 1 ((models "[4]" 2).Replace("\"a\"", $"\"{String('n', 300)}\"")) ], "is 300 characters long; a name is at most 64"
                  "a name with a newline", [ "run"; definition dir "newline" "0.001" 1 ((models "[4]" 2).Replace("\"a\"", "\"a\\nb\"")) ], "models[0].name: \"a\\nb\" must be lower-case letters"
                  "architectureOf an experiment of autoencoders",
                  [ "run"; definition dir "refers" "0.001" 1 """[ { "name": "b", "kind": "ae", "architectureOf": "autoencoders" } ]""" ],
                  "models[0].architectureOf: \"autoencoders\" has no VAE"
                  "architectureOf a file whose name differs", [ "run"; definition dir "refers2" "0.001" 1 """[ { "name": "b", "kind": "ae", "architectureOf": "misnamed" } ]""" ],
                  "misnamed.json: name: is \"other\", but the file is found as \"misnamed\""
                  "a study listing one name twice", [ "run"; write "twice" """{ "name": "twice", "experiments": [ "autoencoders", "autoencoders" ] }""" ],
                  "twice.json: experiments[1]: \"autoencoders\" is already experiments[0]"
                  "a seed whose repeats overflow", [ "run"; "task1"; "--seed"; "9223372036854775807"; "--repeats"; "2" ], "--seed: must be at most 4611686018427387903" ]
            for name, arguments, expected in cases do
                let folder = Path.Combine(dir, "out")
                let clock = Stopwatch.StartNew()
                let o = run (arguments @ [ "--out"; folder ])
                Expect.equal o.ExitCode 2 $"{name}: exit code 2 (stderr: {String.Join(Environment.NewLine, o.Error)})"
                Expect.hasLength o.Error 1 $"{name}: one line on stderr"
                Expect.stringContains o.FirstError expected $"{name}: the line names the problem"
                Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 $"{name}: refused before training"
                Expect.isFalse (Directory.Exists folder) $"{name}: no output folder"
        }

        test "12. kill -9 at any moment (first epoch, between epochs, measuring, writing the report), then resume: the numbers and files of a run never stopped" {
            let reference = reference.Value
            let dir = temporaryDirectory ()
            let count (text: string) (r: Running) = r.Output |> Seq.filter (fun l -> l.Contains text) |> Seq.length
            let until (condition: Running -> bool) (r: Running) =
                let clock = Stopwatch.StartNew()
                while not (condition r) && not r.Process.HasExited && clock.Elapsed < TimeSpan.FromMinutes 3.0 do
                    Threading.Thread.Sleep 20
            let points =
                // run.json is written once the data is loaded, as training starts.
                [ "in the first epoch", until (fun _ -> File.Exists(Path.Combine(dir, "in-the-first-epoch", "run.json"))), 100
                  "between epochs", until (fun r -> count "epoch 1/2" r >= 1), 0
                  "while measuring", until (fun r -> count "epoch 2/2" r >= 2), 300
                  "while writing the report", until (fun r -> count ": done" r >= 2), 0 ]
            for point, wait, delay in points do
                let folder = Path.Combine(dir, point.Replace(' ', '-'))
                let r = start [] [ "run"; "task1"; "--quick"; "--out"; folder ]
                wait r
                Threading.Thread.Sleep delay
                signal "KILL" r.Process
                r.Process.WaitForExit()
                if r.Process.ExitCode = 0 then
                    // Finished before the signal: then it is whole.
                    sameRun reference folder point
                else
                    Expect.equal (status folder) "running" $"{point}: a killed run's run.json still says running"
                    let o = run [ "resume"; folder ]
                    Expect.equal o.ExitCode 0 $"{point}: resume completes (stderr: {String.Join(Environment.NewLine, o.Error)})"
                    sameRun reference folder $"killed {point}, resumed"
        }

        test "12. resume refuses, in one line and changing nothing: a folder that is not a run, a complete run, a running run, a run of another definition, another format" {
            let reference = reference.Value
            let dir = temporaryDirectory ()
            let empty = Path.Combine(dir, "empty")
            Directory.CreateDirectory empty |> ignore
            refused $"run folder {empty}: is not a run folder of this tool (it has no run.json)" (run [ "resume"; empty ])
            let missing = Path.Combine(dir, "missing")
            refused $"run folder {missing}: does not exist" (run [ "resume"; missing ])
            let before = fileHashes reference
            refused $"run folder {reference}: is a complete run; there is nothing to resume" (run [ "resume"; reference ])
            Expect.equal (fileHashes reference) before "the complete run is unchanged"
            // A run killed after its first epochs, whose definition.json is then changed.
            let folder = Path.Combine(dir, "changed")
            let r = start [] [ "run"; "task1"; "--quick"; "--out"; folder ]
            let baseline = Path.Combine(folder, "jobs", "task1", "baseline", "r1")
            let clock = Stopwatch.StartNew()
            while not (File.Exists(Path.Combine(baseline, "state.safetensors")) || File.Exists(Path.Combine(baseline, "train.safetensors")))
                  && not r.Process.HasExited && clock.Elapsed < TimeSpan.FromMinutes 3.0 do
                Threading.Thread.Sleep 10
            refused $"run folder {folder}: is in use by another run" (run [ "resume"; folder ])
            signal "KILL" r.Process
            r.Process.WaitForExit()
            let definitionFile = Path.Combine(folder, "definition.json")
            let definition = Nodes.JsonNode.Parse(File.ReadAllText definitionFile)
            definition["experiments"].[0].["models"].[0].["hidden"].[0] <- Nodes.JsonValue.Create 300
            File.WriteAllText(definitionFile, definition.ToJsonString())
            let before = fileHashes folder
            let o = run [ "resume"; folder ]
            // The baseline's state, or its checkpoint if it finished training before the kill.
            refused $"{folder}/" o
            Expect.stringContains o.FirstError "baseline" "names the baseline's file"
            Expect.stringContains o.FirstError "784-400-20" "and the architecture it holds"
            Expect.equal (fileHashes folder) before "nothing changed"
            let runFile = Path.Combine(folder, "run.json")
            File.WriteAllText(runFile, File.ReadAllText(runFile).Replace("vae-run/1", "vae-run/0"))
            refused $"{runFile}: format: is \"vae-run/0\", expected \"vae-run/1\"" (run [ "resume"; folder ])
        }

        test "12. a diverged model is a finished job: resume does not train it again" {
            let dir = temporaryDirectory ()
            let study = unstableThenStable dir 2
            let folder = Path.Combine(dir, "out")
            let r = start [] [ "run"; study; "--quick"; "--lanes"; "1"; "--out"; folder ]
            r |> waitForLine 3.0 (fun l -> l.Contains "unstable/a repeat 1: diverged")
            signal "KILL" r.Process
            r.Process.WaitForExit()
            let record = Path.Combine(folder, "jobs", "unstable", "a", "r1", "train.safetensors")
            let bytes = File.ReadAllBytes record
            let o = run [ "resume"; folder ]
            Expect.equal o.ExitCode 0 $"resume completes (stderr: {String.Join(Environment.NewLine, o.Error)})"
            Expect.stringContains o.FirstError "warning: unstable/a repeat 1 diverged in epoch 1" "still reported as diverged"
            Expect.equal (File.ReadAllBytes record) bytes "its training record is the one written before the kill: not trained again"
            Expect.equal (status folder) "complete" "complete"
        }
    ]
