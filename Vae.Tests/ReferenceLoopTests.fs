/// The fast training loop against a plain one: torch.nn.Linear modules, torch.optim.Adam, a
/// sigmoid and binary_cross_entropy, the loss read every step, as one writes it from PyTorch's
/// VAE example. Same initial weights, batches and reparameterisation noise; the two must learn
/// alike, so that no speed-up changes what is learned.
module Vae.Tests.ReferenceLoopTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Layers
open Vae.Tests.Shared

/// A torch.nn.Linear holding a copy of `layer`'s weights.
let private copyOf (layer: Linear) =
    let module' = torch.nn.Linear(layer.Weight.shape.[1], layer.Weight.shape.[0])
    use _ = torch.no_grad ()
    module'.weight.copy_(layer.Weight) |> ignore
    module'.bias.copy_(layer.Bias) |> ignore
    module'

/// Mean training loss per image of each epoch of the plain loop, started from `model`'s weights,
/// with the shuffling and noise generators seeded as `Training.train` seeds them.
let private referenceLoop (options: Training.TrainingOptions) (model: Model) (train: Data.Split) =
    let encoderLayers = Model.denseLayers model.Encoder |> List.map copyOf
    let decoderLayers = Model.denseLayers model.Decoder |> List.map copyOf
    let encoder, head = List.take (encoderLayers.Length - 1) encoderLayers, List.last encoderLayers
    let decoder, output = List.take (decoderLayers.Length - 1) decoderLayers, List.last decoderLayers
    let modules = encoderLayers @ decoderLayers
    let latent = int64 model.Architecture.Latent
    use optimizer = torch.optim.Adam(modules |> Seq.collect (fun m -> m.parameters ()), lr = options.LearningRate)
    use shuffle = new torch.Generator(uint64 options.Seed)
    use noise = new torch.Generator(uint64 options.Seed + 1UL)
    let n = train.Count
    let losses =
        [ for _ in 1 .. options.MaxEpochs ->
              use order = torch.randperm (int64 n, generator = shuffle)
              let mutable total = 0.0
              for start in 0 .. options.BatchSize .. n - 1 do
                  use _ = torch.NewDisposeScope()
                  let x = train.Images.index_select(0L, order.narrow(0L, int64 start, int64 (min options.BatchSize (n - start))))
                  let h = encoder |> List.fold (fun h layer -> torch.nn.functional.relu (layer.forward h)) x
                  let parameters = head.forward h
                  let mu = parameters.narrow(1L, 0L, latent)
                  let logVariance = parameters.narrow(1L, latent, latent)
                  let epsilon = torch.randn (mu.shape, generator = noise)
                  let z = mu + (logVariance * 0.5).exp() * epsilon
                  let recon = (output.forward (decoder |> List.fold (fun h layer -> torch.nn.functional.relu (layer.forward h)) z)).sigmoid()
                  let bce = torch.nn.functional.binary_cross_entropy (recon, x, reduction = torch.nn.Reduction.Sum)
                  let kl = (logVariance + 1.0 - mu.pow(2.0.ToScalar()) - logVariance.exp()).sum() * -0.5
                  let loss = bce + kl
                  optimizer.zero_grad ()
                  loss.backward ()
                  optimizer.step () |> ignore
                  total <- total + float (loss.item<float32> ())
              total / float n ]
    modules |> List.iter (fun m -> m.Dispose())
    losses

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
