module Vae.Tests.TrainingTests

open System.Threading
open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Training
open Vae.Tests.Shared

/// A few hundred steps: 12,800 training images at batch 64 are 200 steps an epoch.
let private short = { TrainingOptions.defaults with MaxEpochs = 2; Patience = None; Seed = 5L }

let private subset () =
    let train, validation = trainValidation.Value
    Data.take 12800 train, Data.take 2000 validation

[<Tests>]
let tests =
    testSequenced <| testList "Training" [
        test "a batch's tensors are freed before the next batch: the live count does not grow over an epoch" {
            let train, validation = subset ()
            let live = System.Collections.Generic.List<int64>()
            let hooks = { TrainingHooks.none with OnBatch = fun _ _ _ -> live.Add DisposeScopeManager.Statistics.ThreadTotalLiveCount }
            Training.train hooks { short with MaxEpochs = 1 } (Data.take 1280 train) validation (Model.create 1L Architecture.baseline) |> ignore
            Expect.hasLength live 20 "20 batches"
            Expect.equal live.[19] live.[2] $"live tensors at batch 20 and at batch 3 (all: {Seq.toList live})"
        }

        test "a NaN loss stops training at that epoch: diverged, no best epoch, nothing after it" {
            let train, validation = subset ()
            let result = Training.train TrainingHooks.none { short with LearningRate = 1e6 } (Data.take 1280 train) validation (Model.create 1L Architecture.baseline)
            Expect.equal result.DivergedAt (Some 1) "diverged in epoch 1"
            Expect.equal result.BestEpoch 0 "no best epoch"
            Expect.hasLength result.History 1 "stopped there (two epochs were allowed)"
            Expect.isFalse (System.Double.IsFinite result.History.Head.TrainLoss) "its training loss is not finite"
            let stable = Training.train TrainingHooks.none short (Data.take 1280 train) validation (Model.create 1L Architecture.baseline)
            Expect.equal stable.DivergedAt None "a learning rate of 1e-3 does not diverge"
        }
        test "a few hundred steps on real data lower the validation loss" {
            let train, validation = subset ()
            let model = Model.create 1L Architecture.fiveLayer
            let before = Evaluation.evaluate 0L model validation
            let result = Training.train TrainingHooks.none short train validation model
            let after = Evaluation.evaluate 0L result.Model validation
            Expect.isLessThan after.Loss (0.7 * before.Loss) $"validation loss {before.Loss:F1} → {after.Loss:F1}"
            Expect.isGreaterThan after.Kl 1.0 "the VAE uses its code (KL above 1 nat)"
            Expect.hasLength result.History 2 "two epochs recorded"
            Expect.isTrue (result.History |> List.forall (fun e -> e.Seconds > 0.0 && e.TrainKl > 0.0)) "time and KL recorded"
        }

        test "an autoencoder trains too, with no KL term" {
            let train, validation = subset ()
            let model = Model.create 1L (Architecture.create Autoencoder [ 400; 200; 100 ] 20)
            let result = Training.train TrainingHooks.none { short with MaxEpochs = 1 } train validation model
            let e = result.History.Head
            Expect.equal (e.TrainKl, e.ValidationKl) (0.0, 0.0) "no KL"
            Expect.isLessThan e.ValidationReconstruction 400.0 "it learned something (untrained: about 543)"
        }

        test "the same seed, data and thread count give the same numbers" {
            let train, validation = subset ()
            let run () = (Training.train TrainingHooks.none { short with MaxEpochs = 1 } (Data.take 3200 train) validation (Model.create 1L Architecture.baseline)).History
            let first = run ()
            let second = run ()
            let strip (h: EpochRecord list) = h |> List.map (fun e -> { e with Seconds = 0.0 })
            Expect.equal (strip first) (strip second) "identical histories"
        }

        test "early stopping stops after the patience and restores the best epoch's weights" {
            let train, validation = subset ()
            // A learning rate this high makes the loss rise after the first epoch or two.
            let options = { short with MaxEpochs = 8; Patience = Some 1; LearningRate = 0.05 }
            let result = Training.train TrainingHooks.none options (Data.take 3200 train) validation (Model.create 1L Architecture.baseline)
            let best = result.History |> List.minBy (fun e -> e.ValidationLoss)
            Expect.equal result.BestEpoch best.Epoch "the best epoch is the lowest validation loss"
            Expect.isLessThanOrEqual (List.last result.History).Epoch (result.BestEpoch + 1) "stopped one epoch after the best"
            let again = Evaluation.evaluate (options.Seed + 2L) result.Model validation
            Expect.floatClose Accuracy.high again.Loss best.ValidationLoss "the model holds the best epoch's weights"
        }

        test "cancellation stops training" {
            let train, validation = subset ()
            use cancel = new CancellationTokenSource()
            let hooks = { TrainingHooks.none with OnBatch = (fun _ b _ -> if b = 3 then cancel.Cancel()); Cancellation = cancel.Token }
            Expect.throwsT<System.OperationCanceledException> (fun () -> Training.train hooks short train validation (Model.create 1L Architecture.baseline) |> ignore) "cancelled"
        }

        test "invalid options are refused, naming the rule" {
            Expect.equal (TrainingOptions.validate { short with BatchSize = 0 }) (Error "batchSize: must be at least 1, was 0") "batch"
            Expect.equal (TrainingOptions.validate { short with Patience = Some 0 }) (Error "patience: must be at least 1, was 0") "patience"
            Expect.equal (TrainingOptions.validate { short with LearningRate = -1.0 }) (Error "learningRate: must be a positive number, was -1") "rate"
        }

        test "evaluation on a split gives per-image means with the same seed twice" {
            let model = Model.create 1L Architecture.fiveLayer
            let test = Data.take 3000 dataset.Value.Test
            let a = Evaluation.evaluate 3L model test
            let b = Evaluation.evaluate 3L model test
            Expect.equal a b "deterministic"
            Expect.floatClose Accuracy.veryHigh a.Loss (a.Reconstruction + a.Kl) "loss = reconstruction + KL"
            Expect.equal a.Count 3000 "count"
            Expect.isTrue (a.Reconstruction > 400.0 && a.Reconstruction < 700.0) $"an untrained model's BCE is near 784 ln 2 ≈ 543, was {a.Reconstruction}"
        }
    ]
