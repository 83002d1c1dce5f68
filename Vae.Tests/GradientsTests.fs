module Vae.Tests.GradientsTests

open Expecto
open TorchSharp
open Vae.Core

let private float64 = torch.ScalarType.Float64

/// A float64 model and a batch of images with exact zeros (as Fashion-MNIST's background has).
let private setup kind hidden =
    let model = Architecture.create kind hidden 6 |> Model.create 3L |> Model.convert float64
    use generator = new torch.Generator(11UL)
    let x = torch.rand ([| 9L; 784L |], dtype = float64, generator = generator)
    x.masked_fill_(x.lt ((0.3).ToScalar()), (0.0).ToScalar()) |> ignore
    model, x

/// Autograd's gradient of the summed loss of `Losses.terms`, with z's noise from seed 5.
let private autogradOf (model: Model) (x: torch.Tensor) =
    use generator = new torch.Generator(5UL)
    let terms = Losses.terms generator model x
    let loss = terms.Reconstruction.sum() + terms.Kl.sum()
    model.Parameters.Gradients.zero_() |> ignore
    loss.backward()
    loss.to_type(float64).item<float>(), terms.Kl.sum().to_type(float64).item<float>(), model.Parameters.Gradients.clone()

[<Tests>]
let tests =
    testList "Gradients" [
        test "the hand-written gradient is autograd's, for VAEs and autoencoders of every depth, and overwrites the buffer" {
            for kind in [ Vae; Autoencoder ] do
                for hidden in [ [ 400; 200; 100 ]; [ 400 ]; [ 7; 5 ]; [] ] do
                    let model, x = setup kind hidden
                    let what = $"{kind} {hidden}"
                    let expectedLoss, expectedKl, expected = autogradOf model x
                    use _ = expected
                    // Whatever the buffer held must not survive (NaN would propagate through a sum).
                    model.Parameters.Gradients.fill_(nan.ToScalar()) |> ignore
                    use generator = new torch.Generator(5UL)
                    let loss = Gradients.lossAndGradient generator model x
                    let total = (loss.Reconstruction + loss.Kl).item<float>()
                    // The same loss: the noise is drawn exactly as Model.sample draws it.
                    Expect.floatClose Accuracy.veryHigh total expectedLoss $"{what}: loss"
                    Expect.floatClose Accuracy.veryHigh (loss.Kl.item<float>()) expectedKl $"{what}: KL"
                    let scale = expected.abs().max().item<float>()
                    let difference = (model.Parameters.Gradients - expected).abs().max().item<float>()
                    Expect.isGreaterThan scale 0.1 $"{what}: a gradient worth comparing"
                    Expect.isLessThan difference (1e-12 * scale) $"{what}: largest difference from autograd"
                    if kind = Autoencoder then Expect.equal (loss.Kl.item<float>()) 0.0 $"{what}: no KL term"
        }

        test "float32 training gradients agree with autograd's to float32 precision" {
            let model = Model.create 3L Architecture.fiveLayer
            use generator = new torch.Generator(11UL)
            use x = torch.rand ([| 64L; 784L |], generator = generator)
            let _, _, expected = autogradOf model x
            use _ = expected
            use noise = new torch.Generator(5UL)
            Gradients.lossAndGradient noise model x |> ignore
            let relative = ((model.Parameters.Gradients - expected).norm().item<float32>()) / (expected.norm().item<float32>())
            Expect.isLessThan relative 1e-5f "relative difference of the whole gradient"
        }
    ]
