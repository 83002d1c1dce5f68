/// The run store's job files (JobStore.folder): what a finished job stores reads back bit for bit,
/// NaN and infinities included, and a file that does not belong to the run is refused naming it.
module Vae.Tests.JobStoreTests

open System
open System.IO
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Training
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes
open Vae.Tests.Shared

let private architecture = Shared.architecture Vae 12 [ 6 ] 3

let private job = { Experiment = "exp"; Model = "m"; Repeat = 1; Kind = Train }

let private storeIn (folder: string) = JobStore.folder folder (fun j -> Path.Combine(j.Experiment, j.Model, $"model-r{j.Repeat + 1}.safetensors"))

/// Doubles whose shortest decimal form is long, and the values a diverged epoch leaves.
let private awkward = [| 0.1 + 0.2; 1.0 / 3.0; 5e-324; Double.NaN; Double.PositiveInfinity; -0.0 |]

let private history (diverged: bool) =
    [ for epoch in 1 .. 3 ->
          let last = diverged && epoch = 3
          { Epoch = epoch
            TrainReconstruction = (if last then nan else awkward.[epoch])
            TrainKl = awkward.[epoch - 1]
            ValidationReconstruction = (if last then infinity else 100.0 / float epoch)
            ValidationKl = Math.PI * float epoch
            Seconds = 0.25 * float epoch } ]

let private bits (x: float) = BitConverter.DoubleToInt64Bits x

let private sameHistory (a: EpochRecord list) (b: EpochRecord list) =
    Expect.equal b.Length a.Length "as many epochs"
    for x, y in List.zip a b do
        let fields (r: EpochRecord) = [ r.TrainReconstruction; r.TrainKl; r.ValidationReconstruction; r.ValidationKl; r.Seconds ] |> List.map bits
        Expect.equal y.Epoch x.Epoch "epoch"
        Expect.equal (fields y) (fields x) $"epoch {x.Epoch}: every number bit for bit"

let private outcome (model: Model) (training: TrainingResult) : ModelOutcome =
    let images rows = torch.rand([| int64 rows; 12L |])
    { Spec = { Name = "m"; Source = Widths(Design.mlp Vae [ 6 ] 3) }
      Architecture = architecture
      Repeat = 1
      Training = training
      Test = { Reconstruction = awkward.[0]; Kl = awkward.[1]; Loss = awkward.[0] + awkward.[1]; Count = 10000 }
      IwaeNll = None
      IwaeStandardError = None
      TrainingSeconds = 1.5
      MeasureSeconds = 4.0 / 3.0
      LikelihoodSeconds = nan
      ReusedFrom = None
      GenerationDistance = awkward.[2]
      FittedGenerationDistance = 7.25
      CodeVariance = [| 0.5; 1e-9; 2.0 / 3.0 |]
      ActiveUnits = 2
      KlPerDimension = [| 1.0 / 7.0; 0.0; 3.0 |]
      Probe = { Linear = 0.8125; Knn = 1.0 / 3.0; PcaLinear = 0.79; PcaKnn = 0.8 }
      Generated = images 9
      GeneratedFitted = images 9
      Reconstructions = images 9
      Interpolation = images 10
      Traversal = images 18
      TraversalDimensions = [ 2; 0 ]
      Latent2d = torch.randn([| 50L; 2L |]) }

[<Tests>]
let tests =
    testList "JobStore" [
        test "a finished training reads back bit for bit: the model's weights, the history, best epoch and seconds" {
            Engine.ensureLoaded ()
            let folder = temporaryDirectory ()
            let store = storeIn folder
            let model = Model.create 5L architecture
            let result = { Model = model; History = history false; BestEpoch = 2; DivergedAt = None }
            Expect.isNone (store.LoadTrained job architecture) "nothing stored yet"
            store.SaveTrained job result 12.345678901234567
            match store.LoadTrained job architecture with
            | None -> failtest "stored"
            | Some(read, seconds) ->
                Expect.equal (bits seconds) (bits 12.345678901234567) "seconds"
                Expect.equal read.BestEpoch 2 "best epoch"
                Expect.isNone read.DivergedAt "not diverged"
                sameHistory result.History read.History
                Expect.isTrue (same read.Model.Parameters.Values model.Parameters.Values) "the weights"
            Expect.isTrue (File.Exists(Path.Combine(folder, "exp", "m", "model-r2.safetensors"))) "the checkpoint is where the layout puts it"
            Expect.isEmpty (Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories)) "no temporary file left"
        }

        test "a diverged training keeps its NaN and infinite epoch and has no checkpoint" {
            let folder = temporaryDirectory ()
            let store = storeIn folder
            let result = { Model = Model.create 5L architecture; History = history true; BestEpoch = 2; DivergedAt = Some 3 }
            store.SaveTrained job result 1.0
            let read, _ = (store.LoadTrained job architecture).Value
            Expect.equal read.DivergedAt (Some 3) "diverged at epoch 3"
            sameHistory result.History read.History
            Expect.isFalse (Directory.Exists(Path.Combine(folder, "exp"))) "no checkpoint for a diverged model"
        }

        test "measurements and pictures read back bit for bit" {
            let folder = temporaryDirectory ()
            let store = storeIn folder
            let model = Model.create 5L architecture
            let training = { Model = model; History = history false; BestEpoch = 3; DivergedAt = None }
            let written = outcome model training
            let measureJob = { job with Kind = Measure }
            Expect.isNone (store.LoadMeasured measureJob written.Spec architecture training 1.5) "nothing stored yet"
            store.SaveMeasured measureJob written
            let read = (store.LoadMeasured measureJob written.Spec architecture training 1.5).Value
            let numbers (m: ModelOutcome) =
                [ m.Test.Reconstruction; m.Test.Kl; m.Test.Loss; float m.Test.Count; m.GenerationDistance; m.FittedGenerationDistance
                  float m.ActiveUnits; m.Probe.Linear; m.Probe.Knn; m.Probe.PcaLinear; m.Probe.PcaKnn ]
                @ List.ofArray m.CodeVariance @ List.ofArray m.KlPerDimension @ (m.TraversalDimensions |> List.map float)
                |> List.map bits
            Expect.equal (numbers read) (numbers written) "every number"
            Expect.equal (bits read.MeasureSeconds) (bits (4.0 / 3.0)) "the measuring job's seconds"
            for name, a, b in
                [ "generated", written.Generated, read.Generated
                  "generatedFitted", written.GeneratedFitted, read.GeneratedFitted
                  "reconstructions", written.Reconstructions, read.Reconstructions
                  "interpolation", written.Interpolation, read.Interpolation
                  "traversal", written.Traversal, read.Traversal
                  "latent2d", written.Latent2d, read.Latent2d ] do
                Expect.equal b.shape a.shape $"{name}: shape"
                Expect.isTrue (same a b) $"{name}: every value"
            Expect.equal read.Repeat 1 "the job's repeat"
        }

        test "an IWAE estimate, and an autoencoder's absence of one, read back" {
            let store = storeIn (temporaryDirectory ())
            let first = { job with Kind = Likelihood }
            let second = { first with Repeat = 0 }
            Expect.isNone (store.LoadLikelihood first) "nothing stored yet"
            let third = { first with Repeat = 2 }
            store.SaveLikelihood first (Some { Nll = awkward.[1]; StandardError = Some awkward.[2] }) 14.25
            store.SaveLikelihood second None 0.001
            store.SaveLikelihood third (Some { Nll = awkward.[0]; StandardError = None }) awkward.[0]
            let read job =
                store.LoadLikelihood job
                |> Option.map (fun (estimate, seconds) -> estimate |> Option.map (fun (e: Likelihood.Estimate) -> bits e.Nll, e.StandardError |> Option.map bits), bits seconds)
            Expect.equal (read first) (Some(Some(bits awkward.[1], Some(bits awkward.[2])), bits 14.25)) "the estimate, its standard error and its job's seconds, bit for bit"
            Expect.equal (read second) (Some(None, bits 0.001)) "none, stored as such"
            Expect.equal (read third) (Some(Some(bits awkward.[0], None), bits awkward.[0])) "an estimate over one image has no standard error"
        }

        test "a measurement or an estimate stored without its seconds (by an earlier version) reads back with NaN; seconds that are not a time are refused" {
            let folder = temporaryDirectory ()
            let store = storeIn folder
            let likelihoodJob = { job with Kind = Likelihood }
            let path = Path.Combine(folder, JobStore.modelFolder job, "likelihood.safetensors")
            let rewrite (metadata: (string * string) list) =
                use nll = torch.tensor([| 80.5 |] : float[])
                Safetensors.writeTensors path metadata [ "iwaeNll", nll ]
            store.SaveLikelihood likelihoodJob (Some { Nll = 80.5; StandardError = None }) 2.0
            let format = JobStore.LikelihoodFormat
            rewrite [ "format", format; "job", string likelihoodJob ]
            let estimate, seconds = (store.LoadLikelihood likelihoodJob).Value
            Expect.equal (estimate |> Option.map _.Nll) (Some 80.5) "the estimate"
            Expect.isTrue (Double.IsNaN seconds) "no seconds recorded: NaN"
            for bad in [ "-1"; "NaN"; "soon" ] do
                rewrite [ "format", format; "job", string likelihoodJob; "seconds", bad ]
                Expect.stringContains (messageOf<InvalidInputException> (fun () -> store.LoadLikelihood likelihoodJob |> ignore)) "__metadata__.seconds is not a number of seconds" $"seconds {bad}"
        }

        test "a stored training of another architecture, a corrupt job file and results of an unknown job are refused, naming the file" {
            let folder = temporaryDirectory ()
            let store = storeIn folder
            store.SaveTrained job { Model = Model.create 5L architecture; History = history false; BestEpoch = 1; DivergedAt = None } 1.0
            let other = Shared.architecture Vae 12 [ 7 ] 3
            let checkpoint = Path.Combine(folder, "exp", "m", "model-r2.safetensors")
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> store.LoadTrained job other |> ignore)) checkpoint "names the checkpoint"
            let trainFile = Path.Combine(folder, JobStore.modelFolder job, "train.safetensors")
            let bytes = File.ReadAllBytes trainFile
            File.WriteAllBytes(trainFile, bytes.[.. bytes.Length - 9])
            let message = messageOf<InvalidInputException> (fun () -> store.LoadTrained job architecture |> ignore)
            Expect.stringStarts message trainFile "a truncated file: the message starts with its path"
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> store.Prepare [ { job with Model = "n" } ] (fun _ -> true))) (Path.Combine("jobs", "exp", "m", "r2")) "a job folder the run does not have"
            File.WriteAllText(trainFile + ".123.tmp", "half")
            File.WriteAllText(checkpoint + ".123.tmp", "half")
            store.Prepare [ job ] (fun _ -> false)
            Expect.isTrue (File.Exists(trainFile + ".123.tmp") && File.Exists(checkpoint + ".123.tmp")) "another shard's job: its writer may be running, its temporary files stay"
            store.Prepare [ job ] (fun _ -> true)
            Expect.isFalse (File.Exists(trainFile + ".123.tmp")) "a killed write's temporary file is removed"
            Expect.isFalse (File.Exists(checkpoint + ".123.tmp")) "and the checkpoint's"
        }

        test "a job is finished when its file is there; a diverged training's measurement and estimate count as finished" {
            let store = storeIn (temporaryDirectory ())
            let measure, estimate = { job with Kind = Measure }, { job with Kind = Likelihood }
            Expect.isFalse (store.Finished job || store.Finished measure || store.Finished estimate) "nothing stored yet"
            store.SaveTrained job { Model = Model.create 5L architecture; History = history false; BestEpoch = 1; DivergedAt = None } 1.0
            Expect.isTrue (store.Finished job) "the training"
            Expect.isFalse (store.Finished measure || store.Finished estimate) "its measurement and estimate are still to do"
            store.SaveLikelihood estimate (Some { Nll = 80.0; StandardError = Some 0.5 }) 1.0
            Expect.isTrue (store.Finished estimate) "the estimate"
            let diverged = { job with Repeat = 0 }
            store.SaveTrained diverged { Model = Model.create 5L architecture; History = history true; BestEpoch = 1; DivergedAt = Some 2 } 1.0
            Expect.isTrue (store.Finished { diverged with Kind = Measure } && store.Finished { diverged with Kind = Likelihood }) "a diverged model is not measured: nothing to wait for"
            let readOnly = JobStore.readOnly store
            Expect.stringContains (messageOf<InvalidInputException> (fun () -> readOnly.LoadMeasured measure { Name = "m"; Source = Widths(Design.mlp Vae [ 6 ] 3) } architecture { Model = Model.create 5L architecture; History = history false; BestEpoch = 1; DivergedAt = None } 1.0 |> ignore)) (string measure) "a merge names a job without results"
        }
    ]
