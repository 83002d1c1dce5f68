/// One model's step on two threads (`SplitStep`): the same learning as on one thread, the same
/// numbers every time, any batch size, the caller's threads restored.
module Vae.Tests.SplitStepTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

/// Trains a fresh five-layer VAE (seed 3) for one epoch on `train` with `threads` of libtorch's
/// threads on this thread; returns its weights, the epoch's training loss, and the thread count
/// found afterwards.
let private epoch (threads: int) (architecture: Architecture) (batchSize: int) (train: Data.Split) =
    let before = torch.get_num_threads ()
    Engine.setThreads threads
    try
        let options = { Training.TrainingOptions.defaults with BatchSize = batchSize; Seed = 5L }
        let model = Model.create 3L architecture
        use shuffle = new torch.Generator(uint64 options.Seed)
        use noise = new torch.Generator(uint64 options.Seed + 1UL)
        let adam = Adam.create options.LearningRate model.Parameters
        let adam, reconstruction, kl = Training.trainEpoch Training.TrainingHooks.none 1 options shuffle noise adam model (Data.All train)
        let after = torch.get_num_threads ()
        adam.FirstMoment.Dispose()
        adam.SecondMoment.Dispose()
        model.Parameters.Values.clone (), reconstruction + kl, adam.Steps, after
    finally Engine.setThreads before

[<Tests>]
let tests =
    testSequenced <| testList "SplitStep" [
        test "two threads learn as one does, give the same numbers every time and restore the caller's threads" {
            let train = Data.take 3200 (fst trainValidation.Value)
            Expect.isTrue ((let model = Model.create 1L Architecture.fiveLayer in SplitStep.applies (Adam.create 1e-3 model.Parameters) model) || torch.get_num_threads () < 2) "a float32 perceptron splits on two threads"
            let oneWeights, oneLoss, oneSteps, _ = epoch 1 Architecture.fiveLayer 64 train
            let twoWeights, twoLoss, twoSteps, threadsAfter = epoch 2 Architecture.fiveLayer 64 train
            let againWeights, againLoss, _, _ = epoch 2 Architecture.fiveLayer 64 train
            Expect.equal threadsAfter 2 "the caller's two threads are back after the epoch"
            Expect.equal twoSteps oneSteps "one Adam step per batch"
            Expect.isLessThan (abs (twoLoss - oneLoss) / oneLoss) 1e-4 $"the same training loss: {twoLoss:R} on two threads, {oneLoss:R} on one"
            use difference = (twoWeights - oneWeights).abs().max()
            Expect.isLessThan (difference.item<float32> ()) 1e-3f "weights within rounding after 50 steps"
            use differs = (twoWeights - oneWeights).abs().gt(torch.tensor 0.0f).any()
            Expect.isTrue (differs.item<bool> ()) "the split path ran (its sums round differently)"
            Expect.equal againLoss twoLoss "the same loss, bit for bit, on a second run"
            use same = againWeights.eq(twoWeights).all()
            Expect.isTrue (same.item<bool> ()) "the same weights, bit for bit, on a second run"
        }

        test "odd batches, a batch of one image and an autoencoder take the split path without error" {
            let train = Data.take 67 (fst trainValidation.Value)
            for architecture, batchSize in [ Architecture.fiveLayer, 33; Architecture.fiveLayer, 1; Architecture.create Autoencoder [ 50 ] 4, 7 ] do
                let _, oneLoss, _, _ = epoch 1 architecture batchSize train
                let _, twoLoss, steps, _ = epoch 2 architecture batchSize train
                Expect.equal steps ((67 + batchSize - 1) / batchSize) $"{architecture}, batch {batchSize}: a step per batch"
                Expect.isLessThan (abs (twoLoss - oneLoss) / oneLoss) 1e-4 $"{architecture}, batch {batchSize}: {twoLoss:R} against {oneLoss:R}"
        }
    ]
