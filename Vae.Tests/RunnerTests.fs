/// The runner as a user runs it: a separate process, its exit code, its output and the files it writes.
module Vae.Tests.RunnerTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open Vae.Core
open Vae.Facade
open Vae.Reporting
open Vae.Tests.Shared

type private Outcome = { ExitCode: int; Output: string; Error: string }

let private runner (arguments: string list) : Outcome =
    let start = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Environment.CurrentDirectory)
    start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Vae.Experiments.dll"))
    for a in arguments do start.ArgumentList.Add a
    use p = Process.Start start
    let output = p.StandardOutput.ReadToEndAsync()
    let error = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit(TimeSpan.FromMinutes 5.0)) then p.Kill true
    { ExitCode = p.ExitCode; Output = output.Result; Error = error.Result }

/// Exit code 2, one line on stderr naming the problem, and no output folder.
let private refused (expected: string) (outcome: Outcome) (folder: string) =
    Expect.equal outcome.ExitCode 2 $"exit code 2 (stderr: {outcome.Error})"
    let lines = outcome.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    Expect.hasLength lines 1 $"one line on stderr: {outcome.Error}"
    Expect.stringContains lines.[0] expected "names the problem"
    Expect.isFalse (Directory.Exists folder) "no output folder"

/// One quick run of task1, shared by the tests that inspect its files.
let private quickRun =
    lazy (
        let folder = Path.Combine(temporaryDirectory (), "task1-quick")
        folder, runner [ "run"; "task1"; "--quick"; "--out"; folder ])

let private property (element: JsonElement) (name: string) =
    match element.TryGetProperty name with
    | true, v -> v
    | _ -> failtest $"results.json lacks \"{name}\" in {element.GetRawText().[.. 200]}"

[<Tests>]
let tests =
    testSequenced <| testList "Runner" [
        test "list shows the shipped definitions, one line each" {
            let outcome = runner [ "list" ]
            Expect.equal outcome.ExitCode 0 outcome.Error
            let names = outcome.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun l -> l.Split(' ').[0])
            Expect.equal names [| "beyond"; "seed-study"; "task1"; "task2"; "task3" |] "five definitions"
            Expect.stringContains outcome.Output "study of task1, task2, task3" "the study"
            Expect.stringContains outcome.Output "6 models" "task2"
        }

        test "run task1 --quick writes every file of the run layout" {
            let folder, outcome = quickRun.Value
            Expect.equal outcome.ExitCode 0 $"exit code (stderr: {outcome.Error})"
            Expect.stringContains outcome.Output "task1: best" "names the best model"
            let files =
                [ RunLayout.Results; RunLayout.ReportMarkdown; RunLayout.ReportHtml; RunLayout.ExperimentResults "task1" ]
                @ [ let i = RunLayout.ExperimentImages "task1" in yield! [ i.LatentSpace; i.BestValidationLoss; i.ValidationCurves ] ]
                @ [ for m in [ "baseline"; "five-layer" ] do
                        let i = RunLayout.ModelImages("task1", m)
                        yield! [ i.LossCurves; i.Generated; i.Reconstruction; RunLayout.Checkpoint("task1", m) ] ]
            for f in files do
                Expect.isTrue (File.Exists(Path.Combine(folder, f))) $"{f} written"
            let jobs = Path.Combine(folder, JobStore.JobsFolder, "task1")
            for m in [ "baseline"; "five-layer" ] do
                for job in [ "train"; "measure"; "likelihood" ] do
                    Expect.isTrue (File.Exists(Path.Combine(jobs, m, "r1", $"{job}.safetensors"))) $"{m}'s {job} job kept"
            Expect.isEmpty (Directory.GetFiles(folder, "state.safetensors", SearchOption.AllDirectories)) "no training state left once trainings finished"
            Expect.isEmpty (Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories)) "nothing half-written"
        }

        test "run.json and definition.json say how the run was made" {
            let folder, _ = quickRun.Value
            use run = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunRecord.RunFile)))
            let r = run.RootElement
            Expect.equal ((property r "format").GetString()) RunRecord.Format "format"
            Expect.equal ((property r "status").GetString()) "complete" "a finished run is complete"
            Expect.isTrue ((property (property r "overrides") "quick").GetBoolean()) "the overrides"
            Expect.contains [ for a in (property r "commandLine").EnumerateArray() -> a.GetString() ] "--quick" "the command line"
            let env = property r "environment"
            Expect.equal ((property env "torchSharp").GetString()) "0.107.0" "TorchSharp's version"
            Expect.stringStarts ((property env "libtorch").GetString()) "2." "libtorch's version"
            Expect.stringStarts ((property env "dotnet").GetString()) ".NET" ".NET's version"
            Expect.isGreaterThanOrEqual ((property env "lanes").GetInt32()) 1 "lanes"
            // The tests run from a clone (CI clones the repository fresh).
            Expect.equal ((property env "gitCommit").GetString() |> Option.ofObj) (RunRecord.gitCommit Environment.CurrentDirectory) "the clone's commit"
            use definition = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunRecord.DefinitionFile)))
            let experiments = [ for e in (property definition.RootElement "experiments").EnumerateArray() -> e ]
            Expect.equal [ for e in experiments -> (property e "name").GetString() ] [ "task1" ] "the experiments run"
        }

        test "--batch-size and --lr replace every experiment's, are recorded in run.json and definition.json, and are trained with" {
            let folder = Path.Combine(temporaryDirectory (), "overridden")
            let outcome = runner [ "run"; "task1"; "--quick"; "--epochs"; "1"; "--batch-size"; "128"; "--lr"; "0.002"; "--out"; folder ]
            Expect.equal outcome.ExitCode 0 $"exit code (stderr: {outcome.Error})"
            use run = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunRecord.RunFile)))
            let overrides = property run.RootElement "overrides"
            Expect.equal ((property overrides "batchSize").GetInt32(), (property overrides "learningRate").GetDouble()) (128, 0.002) "run.json's overrides"
            use definition = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunRecord.DefinitionFile)))
            for e in (property definition.RootElement "experiments").EnumerateArray() do
                let t = property e "training"
                Expect.equal ((property t "batchSize").GetInt32(), (property t "learningRate").GetDouble()) (128, 0.002) "definition.json: the training as it ran (what resume and shards read)"
            // Trained with them: the quick run with the definition's batch of 64 and rate of 0.001 (same seed,
            // lanes and threads) has other losses in its first epoch.
            let reference, _ = quickRun.Value
            use defaults = JsonDocument.Parse(File.ReadAllText(Path.Combine(reference, RunRecord.RunFile)))
            Expect.equal ((property (property defaults.RootElement "overrides") "batchSize").ValueKind) JsonValueKind.Null "a run without --batch-size records none"
            let firstEpoch (folder: string) =
                use results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.ExperimentResults "task1")))
                [ for m in (property results.RootElement "models").EnumerateArray() -> (property (property m "epochs").[0] "trainRecon").GetDouble() ]
            let overridden, plain = firstEpoch folder, firstEpoch reference
            Expect.hasLength overridden 2 "two models"
            for a, b in List.zip overridden plain do Expect.notEqual a b "the first epoch's training loss differs"
        }

        test "every repeat keeps its weights, its per-epoch curves and its jobs' times; a model taken from another experiment points to its weights" {
            let folder = Path.Combine(temporaryDirectory (), "task3-repeats")
            let outcome = runner [ "run"; "task3"; "--quick"; "--repeats"; "2"; "--epochs"; "2"; "--out"; folder ]
            Expect.equal outcome.ExitCode 0 $"exit code (stderr: {outcome.Error})"
            use document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.Results)))
            for e in (property document.RootElement "experiments").EnumerateArray() do
                let experiment = (property e "experiment").GetString()
                for m in (property e "models").EnumerateArray() do
                    let name = (property m "name").GetString()
                    let repeats = [ for r in (property m "repeats").EnumerateArray() -> r ]
                    Expect.hasLength repeats 2 $"{experiment}/{name}: two repeats"
                    let checkpoints = [ for r in repeats -> (property r "checkpoint").GetString() ]
                    if name = "vae" then
                        Expect.equal checkpoints [ for r in 0 .. 1 -> RunLayout.Checkpoint("task1", (property document.RootElement "experiments").[0].GetProperty("best").GetString(), r) ] "task3's vae is task1's best, repeat by repeat"
                    else
                        Expect.equal checkpoints [ RunLayout.Checkpoint(experiment, name); $"{experiment}/{name}/model-r2.safetensors" ] $"{experiment}/{name}: one file per repeat"
                    for r in repeats do
                        let epochs = (property r "epochs").GetArrayLength()
                        let repeat = (property r "repeat").GetInt32()
                        Expect.isTrue (epochs >= 1 && epochs <= 2) $"{experiment}/{name} repeat {repeat}: its curve ({epochs} epochs)"
                        for job in [ "trainingSeconds"; "measureSeconds" ] do
                            Expect.isGreaterThan ((property r job).GetDouble()) 0.0 $"{experiment}/{name} repeat {repeat}: {job}"
                        match (property m "kind").GetString() with
                        | "vae" -> Expect.isGreaterThan ((property r "likelihoodSeconds").GetDouble()) 0.0 $"{experiment}/{name} repeat {repeat}: the IWAE estimate's seconds"
                        | kind -> Expect.equal ((property r "likelihoodSeconds").ValueKind) JsonValueKind.Null $"{experiment}/{name} repeat {repeat}: a {kind} has no IWAE estimate, nor its time"
                    let weights = checkpoints |> List.map (fun c -> Checkpoint.load (Path.Combine(folder, c)))
                    Expect.isFalse (same weights.[0].Parameters.Values weights.[1].Parameters.Values) $"{experiment}/{name}: the repeats' weights differ (their seeds do)"
            // task1's two VAEs and task3's autoencoder, twice each; task3's VAE is task1's, not counted again.
            let times = outcome.Output.Split('\n') |> Array.map _.TrimEnd() |> Array.tryFind (fun line -> line.StartsWith "time in jobs, summed over the lanes: ")
            Expect.isSome times $"the runner says where the time went (output: {outcome.Output})"
            for part in [ "6 trainings "; "6 measurements "; "4 IWAE estimates " ] do
                Expect.stringContains times.Value part "each job once"
            Expect.stringContains (File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))) ("Time in jobs, summed over the lanes: " + times.Value.Substring("time in jobs, summed over the lanes: ".Length)) "the report says the same"
        }

        test "results.json has every field, for every model" {
            let folder, _ = quickRun.Value
            use document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.ExperimentResults "task1")))
            let e = document.RootElement
            for name in [ "experiment"; "startedUtc"; "seed"; "models"; "best" ] do property e name |> ignore
            Expect.equal ((property e "experiment").GetString()) "task1" "experiment"
            let models = [ for m in (property e "models").EnumerateArray() -> m ]
            Expect.hasLength models 2 "two models"
            for m in models do
                for name in [ "name"; "kind"; "hidden"; "latent"; "parameters"; "bestEpoch"; "epochs"; "test"; "images" ] do property m name |> ignore
                Expect.equal ((property m "kind").GetString()) "vae" "kind"
                for epoch in (property m "epochs").EnumerateArray() do
                    for name in [ "epoch"; "trainRecon"; "trainKl"; "valRecon"; "valKl"; "seconds" ] do property epoch name |> ignore
                for name in [ "recon"; "kl"; "loss" ] do property (property m "test") name |> ignore
            Expect.equal [ for m in models -> (property m "latent").GetInt32() ] [ 20; 20 ] "latent sizes"
            Expect.contains [ "baseline"; "five-layer" ] ((property e "best").GetString()) "best is one of them"
            use root = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.Results)))
            Expect.isTrue ((property root.RootElement "quick").GetBoolean()) "the run says it was quick"
            let lanes, threads = (property root.RootElement "lanes").GetInt32(), (property root.RootElement "threadsPerModel").GetInt32()
            Expect.isTrue (lanes >= 1 && threads >= 1) $"lanes {lanes}, threads per model {threads}"
            let report = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            Expect.stringContains report (if lanes > 1 then $"Models trained {lanes} at a time" else "Models trained one at a time") "the report says how models shared the machine"
        }

        test "metrics.csv of a real run reads, for each metric of the registry, results.json's summary (one repeat: its value); epochs.csv and the event files are there" {
            let folder, _ = quickRun.Value
            use document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.Results)))
            let models = [ for e in (property document.RootElement "experiments").EnumerateArray() do for m in (property e "models").EnumerateArray() -> m ]
            // No name of task1 needs quoting: a line splits at its commas.
            let lines = File.ReadAllLines(Path.Combine(folder, RunLayout.MetricsCsv))
            let header = lines.[0].Split ','
            Expect.equal (lines.Length - 1) models.Length "a row per model (one repeat each)"
            for m, line in List.zip models (List.ofArray lines.[1..]) do
                let cells = Map.ofArray (Array.zip header (line.Split ','))
                for metric in Metrics.all do
                    match (property m "summary").TryGetProperty metric.Key with
                    | true, summary ->
                        Expect.equal (Double.Parse(cells.[metric.Key], Globalization.CultureInfo.InvariantCulture)) ((property summary "mean").GetDouble()) $"{metric.Key}"
                    | _ -> Expect.equal cells.[metric.Key] "" $"{metric.Key}: no summary, an empty cell"
            let epochs = File.ReadAllLines(Path.Combine(folder, RunLayout.EpochsCsv))
            Expect.equal (epochs.Length - 1) (models |> List.sumBy (fun m -> (property m "epochs").GetArrayLength())) "a row per epoch"
            for m in [ "baseline"; "five-layer" ] do
                Expect.isTrue (File.Exists(Path.Combine(folder, RunLayout.TensorBoardEvents("task1", m, 0, 1)))) $"{m}'s event file"
        }

        test "report.html shows its charts in headless Chromium, offline, with no script errors" {
            let folder, _ = quickRun.Value
            let page = Path.Combine(folder, RunLayout.ReportHtml)
            let html = File.ReadAllText page
            Expect.isFalse (html.Contains "<script src=\"http") "no script is loaded from the network"
            let chromium =
                [ "/usr/bin/chromium"; "/usr/bin/chromium-browser"; "/usr/bin/google-chrome" ] |> List.tryFind File.Exists
                |> Option.defaultWith (fun () -> failtest "Chromium is not installed (.ci/run installs Debian's chromium)")
            let start = ProcessStartInfo(chromium, RedirectStandardOutput = true, RedirectStandardError = true)
            for a in [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-quic"; "--no-first-run"; "--disable-background-networking"
                       "--disable-component-update"; "--disable-sync"; $"--user-data-dir={temporaryDirectory ()}"; "--enable-logging=stderr"; "--v=0"
                       "--virtual-time-budget=15000"; "--dump-dom"; Uri(page).AbsoluteUri ] do
                start.ArgumentList.Add a
            use p = Process.Start start
            let dom = p.StandardOutput.ReadToEndAsync()
            let log = p.StandardError.ReadToEndAsync()
            if not (p.WaitForExit(TimeSpan.FromMinutes 2.0)) then p.Kill true
            let consoleErrors = log.Result.Split('\n') |> Array.filter (fun l -> l.Contains "CONSOLE" && (l.Contains "Uncaught" || l.Contains "Error"))
            Expect.isEmpty consoleErrors "no script errors in the page's console"
            // Plotly draws each chart into an <svg class="main-svg">; an empty div means a chart failed.
            let drawn = Text.RegularExpressions.Regex.Matches(dom.Result, "class=\"main-svg\"").Count
            Expect.isGreaterThanOrEqual drawn 4 $"charts drawn (found {drawn} plotly SVGs)"
        }

        test "a definition over any IDX data set runs end to end: 12 × 12 images of three classes, results, report and pictures of that size" {
            // The data beside the definition, named relative to it; the runner runs from another folder.
            let root = temporaryDirectory ()
            let data = writeIdxDataSet (Path.Combine(root, "shapes")) (12, 12) 3 300 100 false
            let definition = Path.Combine(root, "shapes.json")
            File.WriteAllText(
                definition,
                """{ "name": "shapes", "description": "Bars and blocks.",
                     "data": { "folder": "shapes", "classes": ["stripes", "columns", "squares"], "validationSize": 60, "splitSeed": 42 },
                     "training": { "maxEpochs": 2, "batchSize": 32, "learningRate": 0.001, "seed": 1 },
                     "analysis": { "iwaeSamples": 10, "iwaeImages": 50 },
                     "models": [
                       { "name": "small", "kind": "vae", "hidden": [32], "latent": 2 },
                       { "name": "two-layer", "kind": "vae", "hidden": [32, 16], "latent": 2 },
                       { "name": "autoencoder", "kind": "ae", "hidden": [32], "latent": 2 } ] }""")
            let folder = Path.Combine(temporaryDirectory (), "out")
            let clock = Diagnostics.Stopwatch.StartNew()
            let outcome = runner [ "run"; definition; "--out"; folder ]
            Expect.equal outcome.ExitCode 0 $"exit code (stderr: {outcome.Error})"
            Expect.isLessThan clock.Elapsed.TotalSeconds 60.0 "a small data set runs in well under a minute"

            use results = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunLayout.Results)))
            let experiment = (property results.RootElement "experiments").[0]
            let recorded = property experiment "data"
            Expect.equal ((property recorded "height").GetInt32(), (property recorded "width").GetInt32()) (12, 12) "image size"
            Expect.equal [ for c in (property recorded "classes").EnumerateArray() -> c.GetString() ] [ "stripes"; "columns"; "squares" ] "classes"
            Expect.equal [ for c in (property recorded "interpolation").EnumerateArray() -> c.GetInt32() ] [ 0; 2 ] "first to last class"
            Expect.equal ((property recorded "folder").GetString()) data "the folder, resolved against the definition's"
            Expect.equal ((property recorded "trainImages").GetInt32(), (property recorded "testImages").GetInt32()) (300, 100) "counts"
            let sha256 = [ for p in (property recorded "sha256").EnumerateObject() -> p.Name, p.Value.GetString() ]
            Expect.equal
                sha256
                [ for name in Data.StandardNames -> name, Data.sha256Hex (File.ReadAllBytes(Path.Combine(data, name))) ]
                "each file's SHA-256"
            Expect.equal [ for m in (property experiment "models").EnumerateArray() -> (property m "name").GetString() ] [ "small"; "two-layer"; "autoencoder" ] "every model measured"

            let markdown = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            let html = Net.WebUtility.HtmlDecode(File.ReadAllText(Path.Combine(folder, RunLayout.ReportHtml)))
            for text, name in [ markdown, "report.md"; html, "report.html" ] do
                for c in [ "0 stripes"; "1 columns"; "2 squares" ] do Expect.stringContains text c $"{name} names the classes"
                Expect.stringContains text "12 × 12 pixels" $"{name} gives the image size"
                Expect.stringContains text "VAE 144-32-16-2" $"{name} gives the architecture from 144 inputs"
            // Images of 12 × 12 pixels drawn 9 times over: tiles of 108, 4 apart, 16 of margin, 58 of titles.
            let expected =
                dict [ "generated.png", (2 * 16 + 3 * 108 + 2 * 4, 58 + 3 * 108 + 2 * 4 + 16)
                       "generated-fitted.png", (2 * 16 + 3 * 108 + 2 * 4, 58 + 3 * 108 + 2 * 4 + 16)
                       "reconstruction.png", (2 * 16 + 40 + 9 * 108 + 8 * 4, 58 + 2 * 108 + 4 + 16)
                       "interpolation.png", (2 * 16 + 10 * 108 + 9 * 4, 58 + 108 + 44)
                       // Two rows (both latent dimensions) of nine.
                       "traversal.png", (2 * 16 + 64 + 9 * 108 + 8 * 4, 58 + 26 + 2 * 108 + 4 + 16)
                       "loss.png", (900, 700)
                       "kl-per-dim.png", (900, 480)
                       // Three models and the legend in a row of 420 × 400 cells.
                       "latent-space.png", (4 * 420, 48 + 400)
                       "best-validation-loss.png", (1000, 560)
                       "validation-curves.png", (1000, 560) ]
            let pictures = [ for m in Text.RegularExpressions.Regex.Matches(markdown, @"!\[[^\]]*\]\(([^)]+\.png)\)") -> m.Groups.[1].Value ]
            Expect.isGreaterThanOrEqual pictures.Length 20 $"the report shows the pictures ({pictures.Length})"
            for picture in pictures do
                let path = Path.Combine(folder, Uri.UnescapeDataString picture)
                Expect.isTrue (File.Exists path) $"{picture} exists"
                // A PNG's size is in its IHDR chunk: width and height, big-endian, at bytes 16–23.
                let header =
                    use file = File.OpenRead path
                    let bytes = Array.zeroCreate<byte> 24
                    file.ReadExactly(bytes, 0, 24)
                    bytes
                let width = Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(header, 16, 4))
                let height = Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(header, 20, 4))
                Expect.equal (width, height) expected.[Path.GetFileName path] $"{picture}: size"
        }

        test "a checkpoint the run wrote loads through the façade" {
            let folder, _ = quickRun.Value
            let model = VaeModel.Load(Path.Combine(folder, RunLayout.Checkpoint("task1", "five-layer")))
            Expect.equal (model.Spec.Describe()) "VAE 784-400-200-100-20" "architecture"
        }

        test "bench --epochs 1 times an epoch and writes its JSON" {
            let json = Path.Combine(temporaryDirectory (), "bench.json")
            let outcome = runner [ "bench"; "--epochs"; "1"; "--json"; json ]
            Expect.equal outcome.ExitCode 0 outcome.Error
            Expect.stringContains outcome.Output "median" "prints the median"
            use document = JsonDocument.Parse(File.ReadAllText json)
            let r = document.RootElement
            for name in [ "model"; "batchSize"; "epochSeconds"; "medianSecondsPerEpoch"; "imagesPerSecond"; "gflopPerEpoch"; "gflops"; "peakGflops"; "floorSeconds"; "peakResidentBytes"; "threads"; "finalTrainingLoss"; "machine" ] do
                property r name |> ignore
            Expect.equal ((property r "model").GetString()) "VAE 784-400-200-100-20" "the seed study's five-layer VAE by default"
            // 6 × 835,424 multiply-adds × 60,000 images.
            Expect.floatClose Accuracy.high ((property r "gflopPerEpoch").GetDouble()) (6.0 * 835424.0 * 60000.0 / 1e9) "an epoch's GFLOP"
            let median = (property r "medianSecondsPerEpoch").GetDouble()
            Expect.isGreaterThan median 0.0 "timed"
            Expect.isGreaterThan median ((property r "floorSeconds").GetDouble()) "no epoch beats the machine's matrix-product rate"
            Expect.equal ((property r "plainEpochSeconds").GetArrayLength()) 0 "no plain loop unless asked"
            Expect.equal ((property r "ratio").ValueKind) JsonValueKind.Null "no ratio unless compared"
            Expect.isTrue ((property r "finalTrainingLoss").GetDouble() < 400.0) "one epoch on 60,000 images learns"
            refused "--json" (runner [ "bench"; "--epochs"; "1"; "--json"; "/nonexistent/b.json" ]) "/nonexistent/out"
        }

        test "bench --compare-naive times the plain TorchSharp loop beside the library's, and both learn alike" {
            let json = Path.Combine(temporaryDirectory (), "compare.json")
            let outcome = runner [ "bench"; "--epochs"; "2"; "--hidden"; "200"; "--latent"; "10"; "--batch-size"; "256"; "--compare-naive"; "--json"; json ]
            Expect.equal outcome.ExitCode 0 outcome.Error
            Expect.stringContains outcome.Output "plain epoch 2" "the plain loop's epochs are printed"
            Expect.stringContains outcome.Output "library / plain" "the ratio is printed"
            use document = JsonDocument.Parse(File.ReadAllText json)
            let r = document.RootElement
            Expect.equal ((property r "model").GetString()) "VAE 784-200-10" "the model asked for"
            Expect.equal ((property r "batchSize").GetInt32()) 256 "the batch size asked for"
            let ours = [ for e in (property r "epochSeconds").EnumerateArray() -> e.GetDouble() ]
            let plain = [ for e in (property r "plainEpochSeconds").EnumerateArray() -> e.GetDouble() ]
            Expect.hasLength plain 2 "two plain epochs"
            let ratio = (property r "ratio").GetDouble()
            // Two epochs: the median of the two epochs' ratios (the first is kept below three).
            Expect.floatClose Accuracy.high ratio ((ours.[0] / plain.[0] + ours.[1] / plain.[1]) / 2.0) "the ratio is the median of each epoch's"
            let loss, plainLoss = (property r "finalTrainingLoss").GetDouble(), (property r "plainFinalTrainingLoss").GetDouble()
            Expect.isLessThan (abs (loss - plainLoss) / plainLoss) 0.005 $"the same training: {loss} and {plainLoss} nats per image"
        }

        test "bench refuses an invalid model, batch size or comparison in one line" {
            let nowhere = Path.Combine(temporaryDirectory (), "none")
            refused "--hidden: '400,x' is not a comma-separated list" (runner [ "bench"; "--hidden"; "400,x" ]) nowhere
            refused "hidden" (runner [ "bench"; "--hidden"; "400,0" ]) nowhere
            refused "--batch-size: must be between 1 and 60,000, was 0" (runner [ "bench"; "--batch-size"; "0" ]) nowhere
            refused "--compare-naive: the plain loop is written for multilayer perceptrons" (runner [ "bench"; "--conv"; "32,64"; "--hidden"; "256"; "--compare-naive" ]) nowhere
        }

        test "an unknown definition is refused with exit code 2" {
            let folder = Path.Combine(temporaryDirectory (), "out")
            refused "task9: no definition of that name" (runner [ "run"; "task9"; "--out"; folder ]) folder
        }

        test "an invalid definition is refused before training, naming the JSON path" {
            let dir = temporaryDirectory ()
            let file = Path.Combine(dir, "bad.json")
            File.WriteAllText(file, File.ReadAllText(Experiments.resolve None "task1").Replace("\"latent\": 20 }\n  ]", "\"latent\": 0 }\n  ]"))
            let folder = Path.Combine(dir, "out")
            refused "bad.json: models[1].latent: must be at least 1, was 0" (runner [ "run"; file; "--out"; folder ]) folder
        }

        test "unreadable data is refused and leaves no folder" {
            let dir = temporaryDirectory ()
            let folder = Path.Combine(dir, "out")
            refused "no Fashion-MNIST files here" (runner [ "run"; "task1"; "--quick"; "--data"; dir; "--out"; folder ]) folder
        }

        test "corrupt data is refused naming the file" {
            let dir = temporaryDirectory ()
            let source = FashionMnist.locate None
            for f in FashionMnist.officialFiles do File.Copy(Path.Combine(source, f.Name), Path.Combine(dir, f.Name))
            let labels = Path.Combine(dir, FashionMnist.testLabels.Name)
            // One label short: a longer file would be refused for exceeding the official size instead.
            let content = Idx.decompress labels Idx.DefaultLimit (File.ReadAllBytes labels)
            File.WriteAllBytes(labels, Idx.gzip content.[.. content.Length - 2])
            let folder = Path.Combine(dir, "out")
            refused "t10k-labels-idx1-ubyte.gz: truncated: 9999 data bytes" (runner [ "run"; "task1"; "--quick"; "--data"; dir; "--out"; folder ]) folder
        }

        test "an unwritable output folder is refused" {
            refused "output folder /proc/vae-run: cannot be created" (runner [ "run"; "task1"; "--quick"; "--out"; "/proc/vae-run" ]) "/proc/vae-run"
        }

        test "an output folder that is not empty is refused, and left as it was" {
            let folder = temporaryDirectory ()
            File.WriteAllText(Path.Combine(folder, "keep.txt"), "mine")
            let outcome = runner [ "run"; "task1"; "--quick"; "--out"; folder ]
            Expect.equal outcome.ExitCode 2 outcome.Error
            Expect.stringContains outcome.Error "already exists and is not empty" "named"
            Expect.equal (Directory.GetFileSystemEntries folder |> Array.map Path.GetFileName) [| "keep.txt" |] "untouched"
        }

        test "impossible options are refused with exit code 2" {
            let folder = Path.Combine(temporaryDirectory (), "out")
            refused "--epochs: must be at least 1, was 0" (runner [ "run"; "task1"; "--epochs"; "0"; "--out"; folder ]) folder
            refused "abc" (runner [ "run"; "task1"; "--epochs"; "abc"; "--out"; folder ]) folder
            refused "--repeats: must be between 1 and 100, was 0" (runner [ "run"; "task1"; "--repeats"; "0"; "--out"; folder ]) folder
            refused "--lanes: must be between 1 and 64, was 0" (runner [ "run"; "task1"; "--lanes"; "0"; "--out"; folder ]) folder
            refused "--seed: must be at most 4611686018427387903, was 9223372036854775807" (runner [ "run"; "task1"; "--seed"; "9223372036854775807"; "--out"; folder ]) folder
            refused "--batch-size: must be between 1 and 60000, was 0" (runner [ "run"; "task1"; "--batch-size"; "0"; "--out"; folder ]) folder
            refused "--batch-size: must be between 1 and 60000, was -5" (runner [ "run"; "task1"; "--batch-size"; "-5"; "--out"; folder ]) folder
            refused "--batch-size: must be between 1 and 60000, was 60001" (runner [ "run"; "task1"; "--batch-size"; "60001"; "--out"; folder ]) folder
            refused "--lr: must be a positive number, was 0" (runner [ "run"; "task1"; "--lr"; "0"; "--out"; folder ]) folder
            refused "--lr: must be a positive number, was -0.1" (runner [ "run"; "task1"; "--lr"; "-0.1"; "--out"; folder ]) folder
            refused "--lr: must be a positive number, was NaN" (runner [ "run"; "task1"; "--lr"; "NaN"; "--out"; folder ]) folder
            refused "--lr: must be a positive number, was Infinity" (runner [ "run"; "task1"; "--lr"; "Infinity"; "--out"; folder ]) folder
            refused "fast" (runner [ "run"; "task1"; "--lr"; "fast"; "--out"; folder ]) folder
            refused "/dev/zero: is larger than 1 MB" (runner [ "run"; "/dev/zero"; "--out"; folder ]) folder
            refused "error:" (runner [ "run" ]) folder
        }
    ]
