/// The fast training loop against a plain one (`Benchmark.PlainLoop`): torch.nn.Linear modules,
/// torch.optim.Adam, a sigmoid and binary_cross_entropy, the loss read every step, as one writes it
/// from PyTorch's VAE example. Same initial weights, batches and reparameterisation noise; the two must learn
/// alike, so that no speed-up changes what is learned.
module Vae.Tests.ReferenceLoopTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Layers
open Vae.Tests.Shared

/// Mean training loss per image of each epoch of the plain loop (`Benchmark.PlainLoop`, the loop
/// `bench --compare-naive` times), started from `model`'s weights.
let private referenceLoop (options: Training.TrainingOptions) (model: Model) (train: Data.Split) =
    use loop = new Benchmark.PlainLoop(model, options)
    [ for _ in 1 .. options.MaxEpochs -> loop.Epoch train ]

[<Tests>]
let tests =
    testSequenced <| testList "ReferenceLoop" [
        test "the fast loop's training loss stays within 0.5 % of a plain TorchSharp loop's over 3 epochs" {
            let train, validation = trainValidation.Value
            let train = Data.take 6400 train
            let options = { Training.TrainingOptions.defaults with MaxEpochs = 3; Patience = None; Seed = 9L }
            // Copied before training: Training.train updates the model's buffers in place.
            let reference = referenceLoop options (Model.create 2L Architecture.fiveLayer) train
            let fast =
                (Training.train Training.TrainingHooks.none options train (Data.take 640 validation) (Model.create 2L Architecture.fiveLayer)).History
                |> List.map _.TrainLoss
            Expect.hasLength fast 3 "three epochs"
            List.iteri2
                (fun i (f: float) (r: float) -> Expect.isLessThan (abs (f - r) / r) 0.005 $"epoch {i + 1}: fast {f:F3}, reference {r:F3} nats per image")
                fast
                reference
            Expect.isLessThan (List.last reference) (0.8 * List.head reference) "both learn: the reference's loss falls"
        }
    ]
