module Vae.Tests.ReportTests

open System
open System.IO
open System.Text.Json
open System.Text.RegularExpressions
open Expecto
open SkiaSharp
open Vae.Facade
open Vae.Reporting
open Vae.Tests.Shared

// A hand-made run with round numbers, so that every sentence of the report can be worked out by hand.
// Two experiments of three repeats each: task1, two VAEs; task3, the five-layer VAE reused from task1 against an
// autoencoder. Each measured number is given as (value, spread): the three repeats are value, value + spread and
// value − spread, so that their mean is the value (repeat 1's) and their sample standard deviation the spread.

/// A 28 × 28 image: a bright rectangle whose size and brightness depend on `k`, on a dark background.
let private image (k: int) : float32[] =
    Array.init 784 (fun p ->
        let row, column = p / 28, p % 28
        if row >= 4 + k % 5 && row < 24 && column >= 6 && column < 22 - k % 4 then 0.3f + 0.07f * float32 k else 0.02f)

/// `count` codes in ten clusters, one per class, deterministic.
let private latent (count: int) =
    let random = Random 7
    let labels = Array.init count (fun i -> i % 10)
    let noise () = float32 (random.NextDouble() - 0.5)
    let xs = labels |> Array.map (fun c -> 3.0f * float32 (Math.Cos(float c)) + noise ())
    let ys = labels |> Array.map (fun c -> 3.0f * float32 (Math.Sin(float c)) + noise ())
    xs, ys, labels

let private samples () =
    let xs, ys, labels = latent 2000
    let a, b = image 0, image 7
    ModelSamples(
        Array.init 9 (fun i -> image (i + 3)), Array.init 9 image,
        Array.init 9 (fun i -> image i |> Array.map (fun v -> 0.9f * v + 0.05f)), xs, ys, labels,
        Array.init 9 (fun i -> image (i + 5)),
        Array.init 10 (fun s -> let t = float32 s / 9.0f in Array.map2 (fun u v -> (1.0f - t) * u + t * v) a b),
        [| 0; 7 |],
        Array.init 18 (fun i -> image (i % 9) |> Array.map (fun v -> min 1.0f (v * (0.4f + 0.1f * float32 (i % 9))))),
        [| 3; 0 |])

/// What a model measured, each number as (repeat 1's value, spread over repeats).
type private Measured =
    { /// Spreads of the best epoch's training reconstruction and KL, validation reconstruction and KL.
      BestSpread: float * float * float * float
      Recon: float * float
      Kl: float * float
      Iwae: (float * float) option
      Active: int list
      Linear: float * float
      Knn: float * float
      /// The PCA yardstick: the same in every repeat.
      Pca: float * float
      Generation: float * float
      Fitted: float * float
      Seconds: float * float }

/// Repeat `k`'s value of (value, spread): value, value + spread, value − spread.
let private at k (value, spread) = value + spread * [| 0.0; 1.0; -1.0 |].[k]

let private repeatsOf count seed bestEpoch (best: EpochReport) (m: Measured) =
    let dTr, dTk, dVr, dVk = m.BestSpread
    [| for k in 0 .. count - 1 ->
        let recon, kl = at k m.Recon, at k m.Kl
        RepeatResult(
            k, seed + int64 k, bestEpoch,
            EpochReport(best.Epoch, at k (best.TrainRecon, dTr), at k (best.TrainKl, dTk), at k (best.ValRecon, dVr), at k (best.ValKl, dVk), best.Seconds),
            LossBreakdown(recon, kl, recon + kl, m.Iwae |> Option.map (at k) |> Option.toNullable, m.Iwae |> Option.map (fun _ -> 2.34 + float k) |> Option.toNullable),
            m.Active.[k], ProbeResult(at k m.Linear, at k m.Knn, fst m.Pca, snd m.Pca),
            at k m.Generation, at k m.Fitted, at k m.Seconds,
            MeasureSeconds = 2.5 + float k,
            LikelihoodSeconds = (if m.Iwae.IsSome then 10.0 + float k else nan)) |]

/// Mean and sample standard deviation of each metric over the repeats, keyed as the façade keys them.
let private summaryOf (repeats: RepeatResult[]) =
    let summarise (values: float seq) =
        let s = Vae.Core.Statistics.summarise (List.ofSeq values)
        MetricSummary(s.Mean, s.Std, s.Count)
    let metrics: (string * (RepeatResult -> float option)) list =
        [ "valLoss", (fun r -> Some r.Best.ValLoss)
          "testRecon", (fun r -> Some r.Test.Recon)
          "testKl", (fun r -> Some r.Test.Kl)
          "testLoss", (fun r -> Some r.Test.Loss)
          "iwaeNll", (fun r -> Option.ofNullable r.Test.IwaeNll)
          "activeUnits", (fun r -> Some(float r.ActiveUnits))
          "linearAccuracy", (fun r -> Some r.Probe.LinearAccuracy)
          "knnAccuracy", (fun r -> Some r.Probe.KnnAccuracy)
          "generationDistance", (fun r -> Some r.GenerationDistance)
          "fittedGenerationDistance", (fun r -> Some r.FittedGenerationDistance)
          "trainingSeconds", (fun r -> Some r.TrainingSeconds) ]
    readOnlyDict [ for key, value in metrics do
                       let values = repeats |> Array.map value
                       if values |> Array.forall Option.isSome then key, summarise (Array.choose id values) ]

/// KL per dimension summing to `total`, nearly 0 on the dimensions `inactive` picks (zeros for an autoencoder).
let private klPerDim latent (inactive: int -> bool) total =
    let weights = Array.init latent (fun i -> if inactive i then 0.002 else 1.0 + 0.15 * float ((i * 7) % 5))
    weights |> Array.map (fun w -> total * w / Array.sum weights)

let private model repeatCount experiment name kind hidden parameters bestEpoch (epochs: EpochReport[]) (m: Measured) inactive reused =
    let repeats = repeatsOf repeatCount 42L bestEpoch (epochs |> Array.find (fun e -> e.Epoch = bestEpoch)) m
    let first = repeats.[0]
    ModelResult(
        name, kind, hidden, 20, parameters, bestEpoch, epochs, first.Test, first.TrainingSeconds, first.GenerationDistance,
        Option.toObj reused, RunLayout.Checkpoint((defaultArg reused experiment), name), RunLayout.ModelImages(experiment, name),
        first.ActiveUnits, (if kind = ModelKind.Vae then klPerDim 20 inactive first.Test.Kl else Array.zeroCreate 20),
        first.Probe, first.FittedGenerationDistance, repeats, summaryOf repeats,
        Samples = samples ())

let private baselineMeasured =
    { BestSpread = 0.5, 0.2, 0.4, 0.1
      Recon = 238.0, 0.6
      Kl = 15.3, 0.1
      Iwae = Some(248.6, 0.5)
      Active = [ 14; 15; 13 ]
      Linear = 0.812, 0.004
      Knn = 0.801, 0.003
      Pca = 0.795, 0.823
      Generation = 0.0412, 0.0010
      Fitted = 0.0365, 0.0008
      Seconds = 18.0, 1.0 }

let private baselineWith repeatCount =
    model repeatCount "task1" "baseline" ModelKind.Vae [| 400 |] 652824L 3
        [| EpochReport(1, 300.0, 12.0, 290.0, 13.0, 5.0)
           EpochReport(2, 270.0, 14.0, 262.0, 14.5, 4.0)
           EpochReport(3, 262.0, 15.0, 255.0, 15.3, 4.5)
           EpochReport(4, 258.0, 15.5, 256.0, 15.0, 4.5) |]
        baselineMeasured (fun i -> i % 3 = 1 && i < 18) None

let private baseline = baselineWith 3

let private fiveLayerMeasured =
    { BestSpread = 0.5, 0.3, 0.5, 0.2
      Recon = 240.9, 0.5
      Kl = 9.2, 0.1
      Iwae = Some(244.9, 0.4)
      Active = [ 9; 10; 8 ]
      Linear = 0.806, 0.005
      Knn = 0.815, 0.004
      Pca = 0.795, 0.823
      Generation = 0.0375, 0.0009
      Fitted = 0.0352, 0.0006
      Seconds = 16.0, 0.5 }

let private fiveLayerWith repeatCount experiment reused =
    model repeatCount experiment "five-layer" ModelKind.Vae [| 400; 200; 100 |] 835424L 3
        [| EpochReport(1, 310.0, 6.0, 280.0, 7.0, 6.0)
           EpochReport(2, 265.0, 9.0, 250.0, 9.5, 5.0)
           EpochReport(3, 255.0, 9.5, 248.0, 9.8, 5.0) |]
        fiveLayerMeasured (fun i -> i % 2 = 1 || i = 18) reused

let private fiveLayerIn experiment reused = fiveLayerWith 3 experiment reused

let private autoencoder =
    model 3 "task3" "ae" ModelKind.Autoencoder [| 400; 200; 100 |] 833404L 2
        [| EpochReport(1, 280.0, 0.0, 260.0, 0.0, 4.0)
           EpochReport(2, 240.0, 0.0, 236.5, 0.0, 4.0) |]
        { BestSpread = 0.6, 0.0, 0.5, 0.0
          Recon = 235.2, 0.3
          Kl = 0.0, 0.0
          Iwae = None
          Active = [ 20; 20; 20 ]
          Linear = 0.825, 0.003
          Knn = 0.834, 0.002
          Pca = 0.795, 0.823
          Generation = 0.0583, 0.0020
          Fitted = 0.0341, 0.0007
          Seconds = 8.0, 0.3 }
        (fun _ -> false) None

/// `m` with another best epoch and other samples.
let private rebuilt (m: ModelResult) bestEpoch samples =
    ModelResult(
        m.Name, m.Kind, m.Hidden, m.Latent, m.Parameters, bestEpoch, m.Epochs, m.Test, m.TrainingSeconds, m.GenerationDistance,
        m.ReusedFrom, m.Checkpoint, m.Images, m.ActiveUnits, m.KlPerDim, m.Probe, m.FittedGenerationDistance, m.Repeats, m.Summary,
        Samples = samples)

let private started = DateTime(2025, 11, 24, 5, 0, 0, DateTimeKind.Utc)

/// The metrics the façade judges, with its words, and whether lower is better and only VAEs have them.
let private judged =
    [ "valLoss", "validation loss", true, false
      "testRecon", "test reconstruction", true, false
      "testLoss", "test loss (negative ELBO)", true, true
      "iwaeNll", "test log-likelihood (IWAE negative log-likelihood)", true, true
      "activeUnits", "latent usage (active units)", false, false
      "linearAccuracy", "feature quality (linear probe accuracy)", false, false
      "knnAccuracy", "feature quality (5-NN accuracy)", false, false
      "generationDistance", "generation from N(0, I) (Fréchet distance to the test images)", true, false
      "fittedGenerationDistance", "generation from a fitted Gaussian (Fréchet distance to the test images)", true, false ]

/// The verdicts as the façade gives them, by the core's rule.
let private verdicts (models: ModelResult list) =
    [| for key, label, lower, vaeOnly in judged do
        let candidates = models |> List.filter (fun m -> (not vaeOnly || m.Kind = ModelKind.Vae) && m.Summary.ContainsKey key)
        let of' name = (candidates |> List.find (fun m -> m.Name = name)).Summary.[key]
        if not candidates.IsEmpty then
            let summaries = [ for m in candidates -> m.Name, (let s = m.Summary.[key] in ({ Mean = s.Mean; Std = s.Std; Count = s.Count }: Vae.Core.Statistics.Summary)) ]
            match Vae.Core.Statistics.verdict (if lower then Vae.Core.Statistics.Lower else Vae.Core.Statistics.Higher) summaries with
            | Vae.Core.Statistics.Clear(best, runnerUp, _) -> MetricVerdict(key, label, lower, best, of' best, runnerUp, of' runnerUp, true).WithTest()
            | Vae.Core.Statistics.WithinNoise(best, runnerUp, _) -> MetricVerdict(key, label, lower, best, of' best, runnerUp, of' runnerUp, false).WithTest()
            | Vae.Core.Statistics.Alone best -> MetricVerdict(key, label, lower, best, of' best, null, null, false) |]

let private experiment name description best (models: ModelResult list) =
    let repeats = models |> List.map (fun m -> m.Repeats.Count) |> List.max
    ExperimentResult(name, description, started, 42L, List.toArray models, best, RunLayout.ExperimentImages name,
                     repeats, verdicts models, 1000, 1000)

let private run =
    RunResult("unit", started, true,
        [| experiment "task1" "baseline against five-layer" "five-layer" [ baseline; fiveLayerIn "task1" None ]
           experiment "task3" "VAE against autoencoder" "ae" [ fiveLayerIn "task3" (Some "task1"); autoencoder ] |])

/// The report of `run`, written once for every test of this list.
let private written =
    lazy (
        let folder = temporaryDirectory ()
        (Report.WriteAsync(run, folder)).GetAwaiter().GetResult()
        folder)

let private read relative = File.ReadAllText(Path.Combine(written.Value, relative))

/// Width, height, and the standard deviation of the luminance over all pixels.
let private decode (path: string) =
    use bitmap = SKBitmap.Decode path
    if isNull bitmap then failwith $"{path} is not an image"
    let luminance = bitmap.Pixels |> Array.map (fun c -> 0.299 * float c.Red + 0.587 * float c.Green + 0.114 * float c.Blue)
    let mean = Array.average luminance
    bitmap.Width, bitmap.Height, sqrt (luminance |> Array.averageBy (fun l -> (l - mean) ** 2.0))

/// Dark pixels in a band of rows: text was drawn there.
let private darkPixelsInRows (path: string) (top: int) (bottom: int) =
    use bitmap = SKBitmap.Decode path
    bitmap.Pixels.[top * bitmap.Width .. bottom * bitmap.Width - 1]
    |> Array.filter (fun c -> int c.Red + int c.Green + int c.Blue < 200)
    |> Array.length

/// Pixels of exactly one colour.
let private pixelsOfColour (path: string) (hex: string) =
    use bitmap = SKBitmap.Decode path
    let colour = SKColor.Parse hex
    bitmap.Pixels |> Array.filter (fun c -> c.Red = colour.Red && c.Green = colour.Green && c.Blue = colour.Blue) |> Array.length

let private modelPictures =
    [ for e in run.Experiments do
        for m in e.Models do
            yield m.Images.LossCurves, (900, 700)
            yield m.Images.Generated, (376, 418)
            yield m.Images.Reconstruction, (1112, 302)
            yield m.Images.GeneratedFitted, (376, 418)
            // Ten images of 112 pixels, 4 apart, 16 of margin; 58 for the title and 44 for the class names.
            yield m.Images.Interpolation, (1188, 214)
            // Two rows of nine, a 64-pixel band of row labels, a 26-pixel band of column labels.
            yield m.Images.Traversal, (1136, 328)
            yield m.Images.KlPerDim, (900, 480) ]

let private experimentPictures =
    [ for e in run.Experiments do
        // Two models and the legend: three cells of 420 × 400 in a row, under a 48-pixel title band.
        yield e.Images.LatentSpace, (1260, 448)
        yield e.Images.BestValidationLoss, (1000, 560)
        yield e.Images.ValidationCurves, (1000, 560) ]

[<Tests>]
let tests =
    testSequenced <| testList "Report" [
        test "writing a report produces every file of the run layout" {
            let expected =
                [ RunLayout.Results; RunLayout.ReportMarkdown; RunLayout.ReportHtml ]
                @ [ for e in run.Experiments -> RunLayout.ExperimentResults e.Experiment ]
                @ List.map fst (modelPictures @ experimentPictures)
            for relative in expected do
                Expect.isTrue (File.Exists(Path.Combine(written.Value, relative))) $"{relative} exists"
            Expect.equal (List.length expected) 39 "3 root files, 2 experiment results, 28 model and 6 experiment pictures"
        }

        test "every PNG decodes, has its size and is not blank" {
            for relative, (width, height) in modelPictures @ experimentPictures do
                let w, h, spread = decode (Path.Combine(written.Value, relative))
                Expect.equal (w, h) (width, height) $"{relative}: size"
                // An autoencoder's kl-per-dim.png is a sentence on white, not a chart: tested on its own below.
                if relative <> autoencoder.Images.KlPerDim then
                    Expect.isGreaterThan spread 15.0 $"{relative}: luminance varies (standard deviation {spread:F1})"
        }

        test "a VAE's kl-per-dim.png draws a bar per dimension, the traversed dimensions in red" {
            let path = Path.Combine(written.Value, baseline.Images.KlPerDim)
            Expect.isGreaterThan (pixelsOfColour path "#7f9fbf") 5000 "plain bars"
            Expect.isGreaterThan (pixelsOfColour path "#d62728") 1000 "the traversed dimensions' bars"
            Expect.isGreaterThan (darkPixelsInRows path 8 56) 400 "a title and a subtitle"
        }

        test "an autoencoder's kl-per-dim.png says it has no KL term instead of drawing an empty chart" {
            let path = Path.Combine(written.Value, autoencoder.Images.KlPerDim)
            Expect.equal (pixelsOfColour path "#7f9fbf" + pixelsOfColour path "#d62728") 0 "no bars"
            Expect.isGreaterThan (darkPixelsInRows path 8 56) 400 "a title and a subtitle"
            Expect.isGreaterThan (darkPixelsInRows path 220 330) 1500 "the sentence in the middle"
        }

        test "the traversal labels its rows with the dimensions and its columns with standard deviations" {
            let path = Path.Combine(written.Value, baseline.Images.Traversal)
            // Column labels between the subtitle and the images; row labels in the left band.
            Expect.isGreaterThan (darkPixelsInRows path 62 84) 300 "column labels"
            use bitmap = SKBitmap.Decode path
            let inLabelBand = [ for y in 84 .. 327 do for x in 16 .. 79 -> bitmap.GetPixel(x, y) ] |> List.filter (fun c -> int c.Red + int c.Green + int c.Blue < 200)
            Expect.isGreaterThan inLabelBand.Length 150 "row labels z[3] and z[0]"
        }

        test "the interpolation names the classes at its two ends" {
            let path = Path.Combine(written.Value, baseline.Images.Interpolation)
            use bitmap = SKBitmap.Decode path
            let dark (x0, x1) = [ for y in 172 .. 213 do for x in x0 .. x1 -> bitmap.GetPixel(x, y) ] |> List.filter (fun c -> int c.Red + int c.Green + int c.Blue < 200) |> List.length
            Expect.isGreaterThan (dark (16, 127)) 150 "T-shirt/top under the first image"
            Expect.isGreaterThan (dark (1060, 1171)) 150 "Sneaker under the last image"
        }

        test "the titles of the pictures are drawn" {
            let folder = written.Value
            for relative in [ baseline.Images.LossCurves; baseline.Images.Generated; baseline.Images.Reconstruction
                              baseline.Images.GeneratedFitted; baseline.Images.Interpolation; baseline.Images.Traversal; baseline.Images.KlPerDim ] do
                Expect.isGreaterThan (darkPixelsInRows (Path.Combine(folder, relative)) 8 40) 200 $"{relative}: title band has text"
            Expect.isGreaterThan (darkPixelsInRows (Path.Combine(folder, "task1/latent-space.png")) 8 40) 200 "latent space title"
        }

        test "results.json holds the run, its experiments, models, epochs and test losses, but no samples" {
            use json = JsonDocument.Parse(read RunLayout.Results)
            let root = json.RootElement
            Expect.equal (root.GetProperty("run").GetString()) "unit" "run"
            Expect.isTrue (root.GetProperty("quick").GetBoolean()) "quick"
            Expect.equal (root.GetProperty("startedUtc").GetDateTime()) started "startedUtc"
            let experiments = root.GetProperty("experiments")
            Expect.equal (experiments.GetArrayLength()) 2 "two experiments"
            let task3 = experiments.[1]
            for field in [ "experiment"; "description"; "startedUtc"; "seed"; "models"; "best"; "images" ] do
                Expect.isTrue (fst (task3.TryGetProperty field)) $"experiment has {field}"
            Expect.equal (task3.GetProperty("best").GetString()) "ae" "best"
            let vae, ae = task3.GetProperty("models").[0], task3.GetProperty("models").[1]
            for field in [ "name"; "kind"; "hidden"; "latent"; "parameters"; "bestEpoch"; "epochs"; "test"; "trainingSeconds"
                           "generationDistance"; "reusedFrom"; "checkpoint"; "images" ] do
                Expect.isTrue (fst (vae.TryGetProperty field)) $"model has {field}"
            Expect.isFalse (fst (vae.TryGetProperty "samples")) "samples are not serialised"
            Expect.equal (vae.GetProperty("kind").GetString(), ae.GetProperty("kind").GetString()) ("vae", "ae") "kinds"
            Expect.equal (vae.GetProperty("reusedFrom").GetString()) "task1" "reusedFrom"
            Expect.equal [ for h in vae.GetProperty("hidden").EnumerateArray() -> h.GetInt32() ] [ 400; 200; 100 ] "hidden"
            Expect.equal (vae.GetProperty("bestEpoch").GetInt32()) 3 "bestEpoch"
            let epoch = vae.GetProperty("epochs").[2]
            for field in [ "epoch"; "trainRecon"; "trainKl"; "valRecon"; "valKl"; "seconds" ] do
                Expect.isTrue (fst (epoch.TryGetProperty field)) $"epoch has {field}"
            Expect.equal (epoch.GetProperty("valKl").GetDouble()) 9.8 "valKl of epoch 3"
            let test = vae.GetProperty("test")
            Expect.equal (test.GetProperty("recon").GetDouble(), test.GetProperty("kl").GetDouble(), test.GetProperty("loss").GetDouble())
                (240.9, 9.2, 250.1) "test losses"
            Expect.equal (ae.GetProperty("images").GetProperty("lossCurves").GetString()) "task3/ae/loss.png" "image paths"
        }

        test "each experiment's results.json is its entry in the run's results.json" {
            use json = JsonDocument.Parse(read RunLayout.Results)
            for i, e in Array.indexed (Seq.toArray run.Experiments) do
                use own = JsonDocument.Parse(read (RunLayout.ExperimentResults e.Experiment))
                let compact (element: JsonElement) = JsonSerializer.Serialize element
                Expect.equal (compact own.RootElement) (compact (json.RootElement.GetProperty("experiments").[i])) e.Experiment
        }

        test "the report says where the run's time went: each job once, a model taken from another experiment not again, a job without its time left out" {
            Expect.stringContains (read RunLayout.ReportMarkdown) "Time in jobs, summed over the lanes: 9 trainings 2 min 06 s, 9 measurements 31.5 s, 6 IWAE estimates 66.0 s." "task1's two VAEs and task3's autoencoder, 3 repeats each (task3's five-layer is task1's)"
            // Results of an earlier version, which kept no measuring or estimating time.
            let untimed (m: ModelResult) =
                let repeats =
                    [| for r in m.Repeats ->
                        RepeatResult(r.Repeat, r.Seed, r.BestEpoch, r.Best, r.Test, r.ActiveUnits, r.Probe, r.GenerationDistance, r.FittedGenerationDistance, r.TrainingSeconds,
                                     Epochs = r.Epochs, Checkpoint = r.Checkpoint) |]
                ModelResult(
                    m.Name, m.Kind, m.Hidden, m.Latent, m.Parameters, m.BestEpoch, m.Epochs, m.Test, m.TrainingSeconds, m.GenerationDistance,
                    m.ReusedFrom, m.Checkpoint, m.Images, m.ActiveUnits, m.KlPerDim, m.Probe, m.FittedGenerationDistance, repeats, m.Summary,
                    Samples = m.Samples)
            let times = JobTimes.Of(RunResult("older", started, true, [| experiment "task1" "mixed" "baseline" [ untimed baseline; fiveLayerIn "task1" None ] |]))
            Expect.equal (times.Trainings, times.Measurements, times.Estimates) (6, 3, 3) "every training; only five-layer's measurements and estimates have their time"
            Expect.equal (times.TrainingSeconds, times.MeasureSeconds, times.LikelihoodSeconds) (102.0, 10.5, 33.0) "their sums"
            Expect.equal (times.Describe()) "6 trainings 1 min 42 s, 3 measurements 10.5 s, 3 IWAE estimates 33.0 s" "in words"
            Expect.equal (JobTimes(0, 0.0, 0, 0.0, 0, 0.0).Describe()) "" "nothing recorded: nothing said"
        }

        test "report.md has a row per model with the numbers of its best epoch and of the test set" {
            let markdown = read RunLayout.ReportMarkdown
            // Repeats v, v + d, v − d: mean v, standard deviation d; a loss's spread is its terms' spreads added.
            // Two tables, each narrow enough for a 1,400-pixel page: training, then validation and test.
            Expect.stringContains markdown
                "| model | architecture | parameters | best epoch of each repeat | training reconstruction | training KL | training loss | training time |"
                "the training table's header"
            Expect.stringContains markdown
                "| model | validation reconstruction | validation KL | validation loss | test reconstruction | test KL | test loss |"
                "the evaluation table's header"
            Expect.stringContains markdown
                "| **baseline** | VAE 784-400-20 | 652,824 | 3, 3, 3 | 262.00 ± 0.50 | 15.00 ± 0.20 | 277.00 ± 0.70 | 18.0 ± 1.0 s |"
                "baseline's training row"
            Expect.stringContains markdown
                "| **baseline** | 255.00 ± 0.40 | 15.30 ± 0.10 | 270.30 ± 0.50 | 238.00 ± 0.60 | 15.30 ± 0.10 | 253.30 ± 0.70 |"
                "baseline's evaluation row"
            Expect.stringContains markdown
                "| **ae** | autoencoder 784-400-200-100-20 | 833,404 | 2, 2, 2 | 240.00 ± 0.60 | — | 240.00 ± 0.60 | 8.00 ± 0.30 s |"
                "the autoencoder's training row has no KL"
            Expect.stringContains markdown
                "| **ae** | 236.50 ± 0.50 | — | 236.50 ± 0.50 | 235.20 ± 0.30 | — | 235.20 ± 0.30 |"
                "nor its evaluation row"
            Expect.stringContains markdown "| **five-layer (trained in task1)** |" "the reused model is marked"
        }

        test "report.md names the lowest model on each metric and by how much, from the numbers" {
            let markdown = read RunLayout.ReportMarkdown
            for sentence in
                [ "**five-layer** has the lowest test loss: 250.10 ± 0.60, 3.20 (1.3 %) below **baseline** (253.30 ± 0.70)."
                  "**baseline** has the lowest test reconstruction: 238.00 ± 0.60, 2.90 (1.2 %) below **five-layer** (240.90 ± 0.50)."
                  "**five-layer** has the lowest validation loss: 257.80 ± 0.70, 12.50 (4.6 %) below **baseline** (270.30 ± 0.50)."
                  "**baseline** has the fewest parameters: 652,824, 182,600 (21.9 %) fewer than **five-layer** (835,424)."
                  "Best model by the run's criterion, the lowest best validation loss (mean over 3 repeats): **five-layer** (VAE 784-400-200-100-20), 257.80 ± 0.70 nats per image, best epochs 3, 3, 3." ] do
                Expect.stringContains markdown sentence "sentence"
            Expect.isFalse (markdown.Contains "shortest training time") "no finding on training time (wall-clock time beside whatever else ran)"
        }

        test "report.md compares the VAE with the autoencoder on test reconstruction and on generation" {
            let markdown = read RunLayout.ReportMarkdown
            Expect.stringContains markdown "### VAE against autoencoder" "a comparison section"
            Expect.stringContains markdown
                "The autoencoder **ae** reconstructs the test set better: test reconstruction 235.20 ± 0.30 against 240.90 ± 0.50 nats per image for the VAE **five-layer**, 5.70 (2.4 %) lower, beyond the noise (Welch's t-test, p = 0.0003)."
                "reconstruction"
            Expect.stringContains markdown
                "The VAE **five-layer** generates images closer to real ones from N(0, I): Fréchet distance to the test images in PCA space 0.03750 ± 0.00090 against 0.05830 ± 0.00200 for the autoencoder **ae**, 0.02080 (35.7 %) lower, beyond the noise (Welch's t-test, p = 0.0008)."
                "generation from N(0, I)"
            // 0.0352 − 0.0341 = 0.0011: se = √((0.0007² + 0.0006²)/3) = 0.00053, t = 2.07, 3.9 degrees of freedom.
            Expect.stringContains markdown
                "The autoencoder **ae** and the VAE **five-layer** generate images equally close to real ones from Gaussians fitted to their training codes, within noise: Fréchet distance to the test images in PCA space 0.03410 ± 0.00070 against 0.03520 ± 0.00060, 0.00110 apart, a difference the repeats do not show to be real (Welch's t-test, p = 0.109)."
                "generation from the fitted Gaussians"
            let pictures = markdown.Substring(markdown.IndexOf "Generated images side by side")
            let rows = pictures.Substring(0, pictures.IndexOf "###").Split("\n\n") |> Array.filter (fun r -> r.StartsWith "![")
            Expect.hasLength rows 2 "a row from N(0, I), a row from the fitted Gaussians"
            let vae = fiveLayerIn "task3" None
            Expect.stringContains rows.[0] $"({vae.Images.Generated}) ![ae (autoencoder): from z ~ N(0, I)]({autoencoder.Images.Generated})" "N(0, I) side by side"
            Expect.stringContains rows.[1] $"({vae.Images.GeneratedFitted}) ![ae (autoencoder): from the fitted Gaussian]({autoencoder.Images.GeneratedFitted})" "fitted side by side"
            Expect.equal (Regex.Matches(markdown, "### VAE against autoencoder").Count) 1 "only task3 mixes kinds"
            Expect.isFalse (markdown.Contains "lowest test KL among") "KL is not compared with one VAE"
        }

        test "results.json holds every number of the latent analysis, camelCase" {
            use json = JsonDocument.Parse(read RunLayout.Results)
            let task3 = json.RootElement.GetProperty("experiments").[1]
            Expect.equal (task3.GetProperty("repeats").GetInt32()) 3 "repeats"
            Expect.equal (task3.GetProperty("iwaeSamples").GetInt32(), task3.GetProperty("iwaeImages").GetInt32()) (1000, 1000) "IWAE settings"
            let vae, ae = task3.GetProperty("models").[0], task3.GetProperty("models").[1]
            Expect.equal (vae.GetProperty("test").GetProperty("iwaeNll").GetDouble()) 244.9 "test.iwaeNll"
            Expect.isLessThanOrEqual (vae.GetProperty("test").GetProperty("iwaeNll").GetDouble()) (vae.GetProperty("test").GetProperty("loss").GetDouble()) "IWAE NLL ≤ test loss"
            Expect.equal (ae.GetProperty("test").GetProperty("iwaeNll").ValueKind) JsonValueKind.Null "an autoencoder has no IWAE estimate"
            Expect.equal (vae.GetProperty("test").GetProperty("iwaeNllStandardError").GetDouble()) 2.34 "test.iwaeNllStandardError"
            Expect.equal (ae.GetProperty("test").GetProperty("iwaeNllStandardError").ValueKind) JsonValueKind.Null "nor its standard error"
            let markdown = read RunLayout.ReportMarkdown
            Expect.stringContains markdown "IWAE estimate of the negative log-likelihood 244.9 (1,000 samples per image, first 1,000 test images; standard error 2.3 over those images," "the model's paragraph gives the standard error"
            Expect.equal (vae.GetProperty("activeUnits").GetInt32()) 9 "activeUnits"
            Expect.equal (vae.GetProperty("klPerDim").GetArrayLength()) 20 "klPerDim"
            Expect.floatClose Accuracy.medium ([ for v in vae.GetProperty("klPerDim").EnumerateArray() -> v.GetDouble() ] |> List.sum) 9.2 "KL per dimension sums to the test KL"
            let probe = ae.GetProperty("probe")
            Expect.equal [ for f in [ "linearAccuracy"; "knnAccuracy"; "pcaLinearAccuracy"; "pcaKnnAccuracy" ] -> probe.GetProperty(f).GetDouble() ]
                [ 0.825; 0.834; 0.795; 0.823 ] "probe"
            Expect.equal (ae.GetProperty("fittedGenerationDistance").GetDouble()) 0.0341 "fittedGenerationDistance"
            for field in [ "generatedFitted"; "interpolation"; "traversal"; "klPerDim" ] do
                Expect.isTrue (fst (ae.GetProperty("images").TryGetProperty field)) $"images.{field}"
            let repeats = ae.GetProperty("repeats")
            Expect.equal (repeats.GetArrayLength()) 3 "three repeats"
            Expect.equal [ for r in repeats.EnumerateArray() -> r.GetProperty("seed").GetInt64() ] [ 42L; 43L; 44L ] "each with its own seed"
            for field in [ "repeat"; "seed"; "bestEpoch"; "best"; "test"; "activeUnits"; "probe"; "generationDistance"; "fittedGenerationDistance"; "trainingSeconds" ] do
                Expect.isTrue (fst (repeats.[1].TryGetProperty field)) $"repeat has {field}"
            Expect.floatClose Accuracy.medium (repeats.[1].GetProperty("test").GetProperty("recon").GetDouble()) 235.5 "repeat 2's test reconstruction"
            let summary = ae.GetProperty("summary").GetProperty("testRecon")
            Expect.floatClose Accuracy.medium (summary.GetProperty("mean").GetDouble()) 235.2 "summary mean"
            Expect.floatClose Accuracy.medium (summary.GetProperty("std").GetDouble()) 0.3 "summary std"
            Expect.equal (summary.GetProperty("count").GetInt32()) 3 "summary count"
            Expect.isFalse (fst (ae.GetProperty("summary").TryGetProperty "iwaeNll")) "no IWAE summary for an autoencoder"
            let verdicts = [ for v in task3.GetProperty("verdicts").EnumerateArray() -> v.GetProperty("metric").GetString(), v ] |> dict
            let recon = verdicts.["testRecon"]
            Expect.equal (recon.GetProperty("best").GetString(), recon.GetProperty("runnerUp").GetString(), recon.GetProperty("clear").GetBoolean())
                ("ae", "five-layer", true) "the verdict on test reconstruction"
            for field in [ "label"; "lowerIsBetter"; "bestSummary"; "runnerUpSummary"; "margin" ] do
                Expect.isTrue (fst (recon.TryGetProperty field)) $"verdict has {field}"
            Expect.equal (verdicts.["iwaeNll"].GetProperty("runnerUp").ValueKind) JsonValueKind.Null "IWAE: only the VAE"
            Expect.isFalse (verdicts.["fittedGenerationDistance"].GetProperty("clear").GetBoolean()) "fitted generation: within noise"
        }

        test "report.md has a table of the latent features with the PCA yardstick next to each probe" {
            let markdown = read RunLayout.ReportMarkdown
            Expect.stringContains markdown
                "| model | IWAE NLL | active units | linear probe | linear probe on PCA | 5-NN | 5-NN on PCA | generation from N(0, I) | generation from the fitted Gaussian |"
                "header"
            Expect.stringContains markdown
                "| **baseline** | 248.60 ± 0.50 | 14.0 ± 1.0 of 20 | 81.20 ± 0.40 % | 79.5 % | 80.10 ± 0.30 % | 82.3 % | 0.0412 ± 0.0010 | 0.03650 ± 0.00080 |"
                "baseline's row"
            Expect.stringContains markdown
                "| **ae** | — | 20.0 ± 0 of 20 | 82.50 ± 0.30 % | 79.5 % | 83.40 ± 0.20 % | 82.3 % | 0.0583 ± 0.0020 | 0.03410 ± 0.00070 |"
                "the autoencoder's row has no IWAE estimate"
        }

        test "the verdict declares a model best only when Welch's t-test rejects equal means, with the numbers worked out by hand" {
            let markdown = read RunLayout.ReportMarkdown
            // 240.9 − 238.0 = 2.9; se = √((0.6² + 0.5²)/3) = 0.451, t = 6.43 on 3.87 degrees of freedom: p = 0.0034;
            // t(0.975; 3.87) = 2.80, so the interval is 2.9 ± 1.26.
            Expect.stringContains markdown
                "- On test reconstruction (lower is better), **baseline** is best (238.00 ± 0.60 vs 240.90 ± 0.50 for **five-layer**): the lead of 2.90 is real (Welch's t-test, p = 0.0034; 95 % CI of the lead 1.63 to 4.17)."
                "a clear case"
            // 81.2 − 80.6 = 0.6 points; se = √((0.4² + 0.5²)/3) = 0.37, t = 1.62: p = 0.18.
            Expect.stringContains markdown
                "- On feature quality (linear probe accuracy; higher is better), **baseline** is ahead (81.20 ± 0.40 % vs 80.60 ± 0.50 % for **five-layer**), but the lead of 0.60 points is inconclusive (Welch's t-test, p = 0.183; 95 % CI of the lead −0.45 to 1.65): no model is declared best."
                "an inconclusive case"
            // 0.0352 − 0.0341 = 0.0011; se = 0.00053, t = 2.07: p = 0.11.
            Expect.stringContains markdown
                "- On generation from a fitted Gaussian (Fréchet distance to the test images; lower is better), **ae** is ahead (0.03410 ± 0.00070 vs 0.03520 ± 0.00060 for **five-layer**), but the lead of 0.00110 is inconclusive (Welch's t-test, p = 0.109; 95 % CI of the lead −0.00039 to 0.00259): no model is declared best."
                "the autoencoder's fair generation is not shown to differ from the VAE's"
            Expect.stringContains markdown
                "- On test log-likelihood (IWAE negative log-likelihood; lower is better), only **five-layer** is measured (244.90 ± 0.40): an autoencoder has no KL term, hence no ELBO and no likelihood estimate."
                "a VAE-only metric"
            Expect.stringContains markdown
                "the lead of 21.30 is real (Welch's t-test, p \\< 0.0001; 95 % CI of the lead 19.86 to 22.74). Across kinds this compares a VAE's reconstruction + KL with an autoencoder's reconstruction alone."
                "validation loss across kinds is qualified"
        }

        test "the verdict's summary groups the metrics by aspect and counts the real differences" {
            let markdown = read RunLayout.ReportMarkdown
            for line in
                [ "- **Reconstruction**: **baseline** is better on test reconstruction (a real difference)."
                  "- **Likelihood**: **five-layer** is better on the negative ELBO and the IWAE NLL (real differences)."
                  "- **Latent usage**: **baseline** is better on active units (a real difference)."
                  "- **Feature quality**: **baseline** is ahead on the linear probe, inconclusive; **five-layer** is better on 5-NN (a real difference)."
                  "- **Generation**: **five-layer** is better on generation from N(0, I) (a real difference); **five-layer** is ahead on generation from the fitted Gaussian, inconclusive."
                  "7 of the 9 differences between models are real (Welch's t-test, p \\< 0.05): validation loss (five-layer), test reconstruction (baseline), the negative ELBO (five-layer), the IWAE NLL (five-layer), active units (baseline), 5-NN (five-layer), generation from N(0, I) (five-layer); the others are inconclusive."
                  "- **Likelihood**: only **five-layer** has the negative ELBO and the IWAE NLL."
                  "6 of the 7 differences between models are real (Welch's t-test, p \\< 0.05): validation loss (ae), test reconstruction (ae), active units (ae), the linear probe (ae), 5-NN (ae), generation from N(0, I) (five-layer); the other is inconclusive." ] do
                Expect.stringContains markdown line "summary line"
        }

        test "the verdict says whether each learned code beats its PCA yardstick" {
            let markdown = read RunLayout.ReportMarkdown
            // 81.2 − 79.5 = 1.7, se = 0.4/√3 (the yardstick does not vary), t = 7.4 on 2 degrees of freedom: p = 0.018.
            Expect.stringContains markdown
                "- **baseline** (20 dimensions): linear probe 81.20 ± 0.40 % vs 79.50 % for PCA: beats it by 1.70 points, beyond the noise (p = 0.018); 5-NN 80.10 ± 0.30 % vs 82.30 % for PCA: below it by 2.20 points, beyond the noise (p = 0.0061). Its code beats PCA on the linear probe only."
                "baseline"
            Expect.stringContains markdown
                "- **ae** (20 dimensions): linear probe 82.50 ± 0.30 % vs 79.50 % for PCA: beats it by 3.00 points, beyond the noise (p = 0.0033); 5-NN 83.40 ± 0.20 % vs 82.30 % for PCA: beats it by 1.10 points, beyond the noise (p = 0.011). Its code beats PCA on both probes."
                "the autoencoder"
        }

        test "posterior collapse is named from the active units, and their link to reconstruction and generation when the ranks show it" {
            let markdown = read RunLayout.ReportMarkdown
            // five-layer: 9, 10 and 8 active units of 20 (mean 9 < 10); its first repeat's KL sits in the even dimensions but 18.
            Expect.stringContains markdown
                "- **five-layer** uses 9.0 of its 20 latent dimensions (mean over the repeats): posterior collapse. In the first repeat dimensions 0, 2, 4, 6, 8, 10, 12, 14, 16 carry 99.8 % of its test KL (9.2 nats); the other 11 stay at the prior, so a larger latent size adds nothing the decoder uses."
                "five-layer collapsed"
            Expect.isFalse (markdown.Contains "**baseline** uses") "the baseline's 14 of 20 is not called collapse"
            Expect.isFalse (markdown.Contains "Spearman") "two VAEs: no correlation is stated"
            // Two VAEs: 14 ± 1 against 9 ± 1 active units (t = 6.1), 238.0 ± 0.6 against 240.9 ± 0.5 (t = 6.4),
            // 0.0375 ± 0.0009 against 0.0412 ± 0.0010 (t = 4.8): each difference real, so each link is stated.
            Expect.stringContains markdown
                "- **baseline** keeps 14.0 active units against 9.0 for **five-layer** and reconstructs the test set better (238.00 ± 0.60 against 240.90 ± 0.50 nats per image; both differences real): the decoder is given more dimensions that carry information about the image."
                "more units, better reconstruction"
            Expect.stringContains markdown
                "- **five-layer**, with fewer active units (9.0 against 14.0), generates images from N(0, I) closer to real ones (Fréchet distance 0.03750 ± 0.00090 against 0.04120 ± 0.00100; both differences real)"
                "fewer units, better generation"
            // The same pair with reconstructions the repeats cannot tell apart (240.9 ± 0.5 against 240.5 ± 0.6, p = 0.43)
            // and generation equal within noise: neither link is stated.
            let close =
                model 3 "task1" "five-layer" ModelKind.Vae [| 400; 200; 100 |] 835424L 3
                    [| EpochReport(1, 310.0, 6.0, 280.0, 7.0, 6.0); EpochReport(2, 265.0, 9.0, 250.0, 9.5, 5.0); EpochReport(3, 255.0, 9.5, 248.0, 9.8, 5.0) |]
                    { fiveLayerMeasured with Recon = 238.4, 0.5; Generation = 0.0410, 0.0009 }
                    (fun i -> i % 2 = 1 || i = 18) None
            let closeFolder = temporaryDirectory ()
            (Report.WriteAsync(RunResult("close", started, false, [| experiment "task1" "" "baseline" [ baseline; close ] |]), closeFolder)).GetAwaiter().GetResult()
            let closeMarkdown = File.ReadAllText(Path.Combine(closeFolder, RunLayout.ReportMarkdown))
            Expect.isFalse (closeMarkdown.Contains " keeps ") "no link to reconstruction the repeats do not show"
            Expect.isFalse (closeMarkdown.Contains "with fewer active units") "no link to generation the repeats do not show"
            // A third VAE with fewer active units (4), a worse reconstruction (250) and better generation (0.030): the ranks agree.
            let third =
                model 3 "task1" "narrow" ModelKind.Vae [| 400 |] 652824L 3
                    [| EpochReport(1, 300.0, 5.0, 290.0, 5.0, 5.0); EpochReport(2, 280.0, 5.0, 270.0, 5.0, 4.0); EpochReport(3, 270.0, 5.0, 262.0, 5.0, 4.0) |]
                    { fiveLayerMeasured with Recon = 250.0, 0.5; Active = [ 4; 4; 4 ]; Generation = 0.0300, 0.0005 }
                    (fun i -> i >= 4) None
            let folder = temporaryDirectory ()
            let e = experiment "task1" "" "baseline" [ baseline; fiveLayerIn "task1" None; third ]
            (Report.WriteAsync(RunResult("ranks", started, false, [| e |]), folder)).GetAwaiter().GetResult()
            let ranks = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            Expect.stringContains ranks
                "Across the 3 VAEs, more active units go with lower test reconstruction (Spearman ρ = −1.00): the more dimensions the decoder is given, the better it reconstructs."
                "reconstruction"
            Expect.stringContains ranks
                "Across the 3 VAEs, fewer active units go with lower distance of images generated from N(0, I) to the test images (Spearman ρ = 1.00): a code closer to the prior is easier to sample from."
                "generation"
        }

        test "one precision rule: two significant digits of the spread, the mean to the same decimal" {
            for spread, decimals in [ 0.5, 2; 1.29, 1; 12.3, 0; 0.046, 3; 0.0996, 2; 0.00080, 5; 140.0, 0 ] do
                Expect.equal (Numbers.SpreadDecimals spread) (Nullable decimals) $"decimals for ± {spread}"
            Expect.isFalse (Numbers.SpreadDecimals 0.0).HasValue "no spread, no rule"
            // The inconsistent prints the issue quoted, by the rule.
            Expect.equal (Numbers.MeanSd(MetricSummary(7.574, 0.5, 3), Func<float, string> Numbers.General)) "7.57 ± 0.50" "7.574 ± 0.5"
            Expect.equal (Numbers.MeanSd(MetricSummary(2.96, 0.5, 3), Func<float, string> Numbers.General)) "2.96 ± 0.50" "2.96 ± 0.5"
            Expect.equal (Numbers.MeanSd(MetricSummary(9.5, 0.046, 3), Func<float, string> Numbers.General)) "9.500 ± 0.046" "9.5 ± 0.046"
            Expect.equal (Numbers.MeanSd(MetricSummary(241.4644, 1.2873, 3), Func<float, string> Numbers.Nats)) "241.5 ± 1.3" "a loss"
            Expect.equal (Numbers.Accuracy(MetricSummary(0.8123, 0.0041, 3))) "81.23 ± 0.41 %" "an accuracy, in points"
            Expect.equal (Numbers.MeanSd(MetricSummary(4.0, 0.0, 3), Func<float, string> Numbers.General)) "4 ± 0" "repeats that agree"
            Expect.equal (Numbers.MeanSd(MetricSummary(250.13, 0.0, 1), Func<float, string> Numbers.Nats)) "250.1" "one repeat: the unit's precision"
            Expect.equal (Numbers.DifferenceOf(MetricSummary(250.1, 0.6, 3), MetricSummary(253.3, 0.07, 3), 3.2, Func<float, string> Numbers.Difference)) "3.200" "the smaller spread's decimals"
            // The seed study's lowest training loss in task2: 244.0559 ± 0.29 against 244.0561 ± 0.066 printed
            // "244.06 ± 0.29, 0.000 below (244.056 ± 0.066)": a comparison takes one precision for both and
            // more digits until the lead shows.
            let a, b = MetricSummary(244.0559, 0.29, 3), MetricSummary(244.0561, 0.066, 3)
            Expect.equal (Numbers.ComparisonDecimals(a, b)) (Nullable 4) "two digits of 0.066 (3 decimals), then one more for the lead"
            Expect.equal (Numbers.MeanSdAt(a, Numbers.ComparisonDecimals(a, b), Func<float, string> Numbers.Nats)) "244.0559 ± 0.2900" "both at the comparison's decimals"
            Expect.equal (Numbers.DifferenceOf(a, b, b.Mean - a.Mean, Func<float, string> Numbers.Difference)) "0.0002" "the lead shows"
            Expect.equal (Numbers.Percent 0.00013) "< 0.1 %" "a tiny share is not printed to five digits"
            Expect.equal (Numbers.Percent 1.26) "1.3 %" "one decimal"
        }

        test "best-validation-loss.png: 95 % intervals from Student's t, on an axis fitted to them" {
            // n = 3: t(0.975, 2) = 4.303, so the half-width is 4.303 · 0.6 / √3 = 1.49.
            Expect.floatClose { absolute = 1e-3; relative = 0.0 } (BestValidationLossPng.HalfInterval(MetricSummary(238.0, 0.6, 3))) 1.4906 "n = 3"
            Expect.equal (BestValidationLossPng.HalfInterval(MetricSummary(238.0, 0.0, 1))) 0.0 "one repeat: no interval"
            let struct (low, high) = BestValidationLossPng.AxisRange([| MetricSummary(238.0, 0.6, 3); MetricSummary(240.9, 0.5, 3) |])
            // Ends 236.51 and 242.14; span 5.63, padded by 1.13 below and 2.2 × 1.13 above.
            Expect.floatClose { absolute = 0.01; relative = 0.0 } low (238.0 - 1.4906 - 0.2 * (240.9 + 1.2421 - 238.0 + 1.4906)) "the axis starts just below the lowest interval, not at 0"
            Expect.isGreaterThan high (240.9 + 1.2421) "and ends above the highest"
            Expect.isLessThan (high - low) 15.0 "a 3-nat difference fills the picture"
        }

        test "the report opens with each experiment's answer in a few sentences, read from the verdicts and findings" {
            let markdown = read RunLayout.ReportMarkdown
            let summary = markdown.Substring(markdown.IndexOf "## Summary", markdown.IndexOf "## Method" - markdown.IndexOf "## Summary")
            Expect.isLessThan (markdown.IndexOf "## Summary") (markdown.IndexOf "## task1") "before the experiments"
            Expect.stringContains summary
                "- **task1**: **five-layer** (VAE 784-400-200-100-20) has the lowest validation loss, 257.80 ± 0.70 nats per image; its lead over baseline is real (Welch's t-test, p \\< 0.0001). Best on test reconstruction: baseline; the IWAE NLL: five-layer; generation from N(0, I): five-layer. Posterior collapse: five-layer (9.0 of 20 active units)."
                "task1"
            Expect.stringContains summary "(Across kinds the validation loss does not compare like with like: see the reconstruction.) Best on test reconstruction: ae;" "task3 mixes kinds"
        }

        test "a best epoch at the epoch cap is flagged as under-training at the top, in the experiment and in its verdict" {
            // Every repeat of the baseline and of five-layer has its best epoch at 3.
            let flagged (maxEpochs: int) =
                let folder = temporaryDirectory ()
                let e0 = experiment "task1" "" "five-layer" [ baseline; fiveLayerIn "task1" None ]
                let e =
                    ExperimentResult(e0.Experiment, e0.Description, e0.StartedUtc, e0.Seed, e0.Models, e0.Best, e0.Images, e0.Repeats, e0.Verdicts,
                                     e0.IwaeSamples, e0.IwaeImages, MaxEpochs = Nullable maxEpochs)
                (Report.WriteAsync(RunResult("capped", started, false, [| e |]), folder)).GetAwaiter().GetResult()
                File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            let markdown = flagged 3
            let warning =
                "6 of 6 trainings had their best epoch at the 3-epoch cap (baseline: 3 of 3, five-layer: 3 of 3): they were still improving when stopped, so their numbers understate what the architecture can do and the ranking may change with more epochs (--epochs)."
            Expect.stringContains markdown $"**Under-trained models.** task1: {warning}" "at the top"
            Expect.stringContains markdown $"**Under-trained.** {warning}" "in the experiment"
            Expect.stringContains markdown $"**Caution:** {warning}" "in the verdict"
            Expect.isLessThan (markdown.IndexOf "Under-trained models.") (markdown.IndexOf "## task1") "the top comes before the experiment"
            Expect.isFalse ((flagged 4).Contains "Under-trained") "a cap of 4: the best epochs (3) came before it"
            Expect.isFalse ((read RunLayout.ReportMarkdown).Contains "Under-trained") "a cap that is not known says nothing"
        }

        test "with one repeat no difference is judged and the tables show single values" {
            let folder = temporaryDirectory ()
            let once = RunResult("once", started, false, [| experiment "task1" "" "five-layer" [ baselineWith 1; fiveLayerWith 1 "task1" None ] |])
            (Report.WriteAsync(once, folder)).GetAwaiter().GetResult()
            let markdown = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            Expect.stringContains markdown "1 repeat." "says so"
            Expect.stringContains markdown "| **baseline** | VAE 784-400-20 | 652,824 | 3 of 4 | 262.0 | 15.0 | 277.0 | 18.0 s |" "single values"
            Expect.stringContains markdown "| **baseline** | 255.0 | 15.3 | 270.3 | 238.0 | 15.3 | 253.3 |" "single values, validation and test"
            Expect.stringContains markdown "| **baseline** | 248.6 | 14 of 20 | 81.2 % | 79.5 % | 80.1 % | 82.3 % | 0.0412 | 0.0365 |" "latent row"
            Expect.stringContains markdown
                "- On test reconstruction (lower is better), **baseline** is ahead (238.0 vs 240.9 for **five-layer**), a lead of 2.9; with one repeat the spread between seeds is not measured, so no model is declared best."
                "not judged"
            Expect.stringContains markdown "Each model was trained once, so the spread between seeds is unknown and none of the 9 differences is judged" "tally"
            let section = markdown.Substring(markdown.IndexOf "## task1")
            Expect.isFalse (section.Contains "beyond the noise") "nothing is called beyond the noise"
            Expect.isFalse (section.Contains " ± ") "no spreads"
        }

        test "the printed lead never reads 0 and unequal means never print equal: decimals are added until they do not" {
            let folder = temporaryDirectory ()
            let models = [ baseline; fiveLayerIn "task1" None ]
            // 238.04 − 238.00 = 0.04: at one decimal both would read 238.0 and the lead 0.0. Welch: se = 0.0163, t = 2.45
            // on 4 degrees of freedom, p = 0.070; t(0.975; 4) = 2.776, so the lead's interval is 0.04 ± 0.045.
            let close =
                MetricVerdict("testRecon", "test reconstruction", true, "baseline", MetricSummary(238.0, 0.02, 3), "five-layer", MetricSummary(238.04, 0.02, 3), false)
                    .WithTest()
            Expect.floatClose Accuracy.high close.P.Value 0.07048399691 "p"
            let e = ExperimentResult("task1", "", started, 42L, List.toArray models, "five-layer", RunLayout.ExperimentImages "task1", 3, [| close |], 1000, 1000)
            (Report.WriteAsync(RunResult("close", started, false, [| e |]), folder)).GetAwaiter().GetResult()
            let markdown = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            Expect.stringContains markdown
                "**baseline** is ahead (238.000 ± 0.020 vs 238.040 ± 0.020 for **five-layer**), but the lead of 0.040 is inconclusive (Welch's t-test, p = 0.070; 95 % CI of the lead −0.005 to 0.085): no model is declared best."
                "two decimals"
        }

        test "report.md says first that the numbers come from a quick smoke run, and embeds every PNG" {
            let markdown = read RunLayout.ReportMarkdown
            let notice = markdown.IndexOf "Quick smoke run"
            Expect.isTrue (notice > 0 && notice < markdown.IndexOf "## task1") "notice before the first experiment"
            for relative, _ in modelPictures @ experimentPictures do
                Expect.stringContains markdown $"]({relative})" $"{relative} embedded"
        }

        test "report.html inlines plotly.js once, loads nothing from the network and draws every chart" {
            let html = read RunLayout.ReportHtml
            Expect.equal (Regex.Matches(html, "plotly.js v2").Count) 1 "plotly.js's own header appears once"
            Expect.isFalse (Regex.IsMatch(html, "<script[^>]+src=")) "no external script"
            // plotly.js itself names its CDN (for map data no chart here uses); the page around it names no address.
            let page = Regex.Replace(html, "(?s)<script type=\"text/javascript\">/\\*\\*\\s*\\* plotly.js v2.*?</script>", "")
            Expect.isLessThan page.Length 1_000_000 "plotly.js taken out"
            Expect.isFalse (Regex.IsMatch(page, "(src|href)=\"(https?:)?//")) "no network address in the page"
            // Per experiment: validation curves, latent space; per model: loss curves; per VAE: KL per dimension.
            Expect.equal (Regex.Matches(page, "Plotly.newPlot\\(").Count) (2 * 2 + 4 + 3) "eleven charts"
            Expect.equal (Regex.Matches(page, "<div id=\"chart-\\d+\"").Count) 11 "with stable ids"
            Expect.equal (Regex.Matches(page, "KL divergence per latent dimension \\(test set\\)").Count) 3 "a KL chart per VAE"
            // Each figure once: where an interactive chart exists the page links its PNG instead of showing it too.
            Expect.stringContains html "<a href=\"task3/latent-space.png\"><code>task3/latent-space.png</code></a>" "the latent space's PNG linked"
            Expect.isFalse (html.Contains "<img src=\"task3/latent-space.png\"") "and not shown beside its interactive copy"
            Expect.stringContains html "<img src=\"task3/best-validation-loss.png\"" "a PNG without an interactive copy is shown, linked relatively"
            Expect.stringContains html "<td class=\"num\">253.30 &#177; 0.70</td>" "tables"
            Expect.stringContains html "Quick smoke run." "notice"
        }

        test "a run that is not quick carries no smoke-run notice" {
            let folder = temporaryDirectory ()
            let single = RunResult("full", started, false, [| experiment "task1" "" "baseline" [ baseline ] |])
            (Report.WriteAsync(single, folder)).GetAwaiter().GetResult()
            let markdown = File.ReadAllText(Path.Combine(folder, RunLayout.ReportMarkdown))
            Expect.isFalse (markdown.Contains "smoke") "no notice"
            Expect.isFalse (markdown.Contains "Lowest on each metric") "nothing to compare with one model"
        }

        test "a malformed run is refused before anything is written, naming the model and the field" {
            let folder = Path.Combine(temporaryDirectory (), "run")
            let broken =
                rebuilt baseline 7 baseline.Samples
            let message =
                messageOf<ArgumentException> (fun () ->
                    (Report.WriteAsync(RunResult("bad", started, false, [| experiment "task1" "" "baseline" [ broken ] |]), folder))
                        .GetAwaiter().GetResult())
            Expect.stringContains message "model 'baseline'" "names the model"
            Expect.stringContains message "best epoch 7" "names the problem"
            Expect.isFalse (Directory.Exists folder) "nothing written"

            let s = baseline.Samples
            let shortSamples =
                ModelSamples(Array.init 8 image, s.Originals, s.Reconstructions, s.LatentX, s.LatentY, s.LatentLabels,
                             s.GeneratedFitted, s.Interpolation, s.InterpolationLabels, s.Traversal, s.TraversalDimensions)
            let eight = rebuilt baseline baseline.BestEpoch shortSamples
            let message =
                messageOf<ArgumentException> (fun () ->
                    (Report.WriteAsync(RunResult("bad", started, false, [| experiment "task1" "" "baseline" [ eight ] |]), folder))
                        .GetAwaiter().GetResult())
            Expect.stringContains message "Samples.Generated must hold 9 images, it holds 8" "names the field"

            let outside =
                ModelSamples(s.Generated, s.Originals, s.Reconstructions, s.LatentX, s.LatentY, s.LatentLabels,
                             s.GeneratedFitted, s.Interpolation, s.InterpolationLabels, s.Traversal, [| 3; 20 |])
            let message =
                messageOf<ArgumentException> (fun () ->
                    (Report.WriteAsync(RunResult("bad", started, false, [| experiment "task1" "" "baseline" [ rebuilt baseline 3 outside ] |]), folder))
                        .GetAwaiter().GetResult())
            Expect.stringContains message "Samples.TraversalDimensions must be distinct latent dimensions (0–19), was [3, 20]" "names the field"
            Expect.isFalse (Directory.Exists folder) "nothing written"
        }
    ]
