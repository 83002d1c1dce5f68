module Vae.Tests.GradientsTests

open System
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
                    let total = loss.Reconstruction + loss.Kl
                    // The same loss: the noise is drawn exactly as Model.sample draws it.
                    Expect.floatClose Accuracy.veryHigh total expectedLoss $"{what}: loss"
                    Expect.floatClose Accuracy.veryHigh loss.Kl expectedKl $"{what}: KL"
                    let scale = expected.abs().max().item<float>()
                    let difference = (model.Parameters.Gradients - expected).abs().max().item<float>()
                    Expect.isGreaterThan scale 0.1 $"{what}: a gradient worth comparing"
                    Expect.isLessThan difference (1e-12 * scale) $"{what}: largest difference from autograd"
                    if kind = Autoencoder then Expect.equal loss.Kl 0.0 $"{what}: no KL term"
        }

        test "the float32 loops give autograd's loss and gradient to float32 precision, for every depth" {
            for kind in [ Vae; Autoencoder ] do
                for hidden in [ [ 400; 200; 100 ]; [ 7; 5 ]; [] ] do
                    let what = $"{kind} {hidden}"
                    let model = Architecture.create kind hidden 20 |> Model.create 3L
                    use generator = new torch.Generator(11UL)
                    // 37 images: rows whose lengths are no multiple of the vector width.
                    use x = torch.rand ([| 37L; 784L |], generator = generator)
                    x.masked_fill_(x.lt ((0.3).ToScalar()), (0.0).ToScalar()) |> ignore
                    // Autograd on the same float32 model, so that z's noise is the same draw.
                    let expectedLoss, expectedKl, expected = autogradOf model x
                    use _ = expected
                    model.Parameters.Gradients.fill_(nan.ToScalar()) |> ignore
                    use noise = new torch.Generator(5UL)
                    let loss = Gradients.lossAndGradient noise model x
                    Expect.floatClose { absolute = 0.0; relative = 1e-5 } (loss.Reconstruction + loss.Kl) expectedLoss $"{what}: loss"
                    Expect.floatClose { absolute = 1e-4; relative = 1e-5 } loss.Kl expectedKl $"{what}: KL"
                    let relative = (model.Parameters.Gradients - expected).norm().item<float32>() / expected.norm().item<float32>() |> float
                    Expect.isLessThan relative 1e-5 $"{what}: relative difference of the whole gradient"
        }

        test "the direct gradient (MKL called directly, one workspace) is the engine path's, bit for bit" {
            Expect.isTrue (Blas.available.Force()) "MKL's sgemm_ and sgemv_ reachable in libtorch_cpu.so on this machine"
            for kind in [ Vae; Autoencoder ] do
                for hidden, latent, beta in [ [ 400; 200; 100 ], 20, 1.0; [ 7; 5 ], 3, 1.0; [ 30 ], 4, 4.0; [], 2, 1.0 ] do
                    let plain = Architecture.create kind hidden latent
                    let architecture = if kind = Vae then Architecture.withBeta beta plain else plain
                    let model = Model.create 3L architecture
                    let what = $"{architecture}"
                    Expect.isTrue (DirectGradient.applies model) $"{what}: takes the direct path"
                    use generator = new torch.Generator(11UL)
                    use images = torch.rand ([| 40L; 784L |], generator = generator)
                    images.masked_fill_(images.lt ((0.3).ToScalar()), (0.0).ToScalar()) |> ignore
                    // A workspace larger than the batches: 37 images (no multiple of the vector
                    // width), then 2 (the fewest it takes), then rows from the middle of a batch.
                    use workspace = new DirectGradient.Workspace(model, 40)
                    for x in [ images.narrow(0L, 0L, 37L); images.narrow(0L, 0L, 2L); images.narrow(0L, 11L, 29L) ] do
                        let rows = x.shape.[0]
                        use noise = new torch.Generator(5UL)
                        let loss = Gradients.byHand noise model x
                        use expected = model.Parameters.Gradients.clone ()
                        model.Parameters.Gradients.fill_(nan.ToScalar()) |> ignore
                        use noise = new torch.Generator(5UL)
                        let direct = workspace.Pass(Gradients.noiseFor noise model rows, model.Parameters.Gradients, x)
                        Expect.equal direct.Reconstruction loss.Reconstruction $"{what}, {rows} images: reconstruction"
                        Expect.equal direct.Kl loss.Kl $"{what}, {rows} images: KL"
                        Expect.isTrue (Vae.Tests.Shared.same model.Parameters.Gradients expected) $"{what}, {rows} images: every gradient value"
                    Model.dispose model
        }

        test "the direct gradient refuses what its memory cannot hold, naming it" {
            let model = Model.create 3L (Architecture.create Vae [ 7; 5 ] 3)
            use workspace = new DirectGradient.Workspace(model, 8)
            use x = torch.rand ([| 8L; 784L |])
            use noise = torch.randn ([| 8L; 3L |])
            let refused what (pass: unit -> Gradients.BatchLoss) =
                Expect.throwsT<System.ArgumentException> (pass >> ignore) what
            refused "nine images for a workspace of eight" (fun () -> (use nine = torch.rand ([| 9L; 784L |]) in workspace.Pass(Some noise, model.Parameters.Gradients, nine)))
            refused "one image" (fun () -> workspace.Pass(Some(noise.narrow(0L, 0L, 1L)), model.Parameters.Gradients, x.narrow(0L, 0L, 1L)))
            refused "float64 images" (fun () -> (use x64 = x.to_type torch.ScalarType.Float64 in workspace.Pass(Some noise, model.Parameters.Gradients, x64)))
            refused "noise of the wrong shape" (fun () -> (use short = torch.randn ([| 7L; 3L |]) in workspace.Pass(Some short, model.Parameters.Gradients, x)))
            refused "a VAE without noise" (fun () -> workspace.Pass(None, model.Parameters.Gradients, x))
            refused "a gradient buffer of another size" (fun () -> (use small = torch.zeros ([| 10L |]) in workspace.Pass(Some noise, small, x)))
            Expect.isTrue (Double.IsFinite((workspace.Pass(Some noise, model.Parameters.Gradients, x)).Reconstruction)) "a batch it can hold still passes"
            Model.dispose model
        }

        test "the float32 cross-entropy loop is exact at extreme logits and on every element" {
            // 1,001 values: a length no vector width divides, so the scalar tail runs too.
            let logits = Array.init 1001 (fun i -> float32 (i - 500) * 0.25f) |> Array.append [| -200.0f; 200.0f; 0.0f |]
            let targets = Array.init logits.Length (fun i -> float32 (i % 11) / 10.0f)
            use l = torch.tensor logits
            use x = torch.tensor targets
            use gradient = torch.empty_like l
            let sum = Kernels.binaryCrossEntropy l x gradient
            let bce (l: float) (x: float) = max l 0.0 + log (1.0 + exp (-(abs l))) - x * l
            let expected = Array.map2 (fun l x -> bce (float l) (float x)) logits targets |> Array.sum
            Expect.floatClose { absolute = 0.0; relative = 1e-6 } sum expected "summed cross-entropy"
            let sigmoid (l: float) = 1.0 / (1.0 + exp (-l))
            Array.iteri2
                (fun i (l: float32) (x: float32) ->
                    let d = float (gradient.[int64 i].item<float32>())
                    Expect.floatClose { absolute = 1e-7; relative = 1e-6 } d (sigmoid (float l) - float x) $"σ(l) − x at l = {l}")
                logits
                targets
        }

        test "the float32 ReLU mask zeroes exactly where the output is not positive" {
            use generator = new torch.Generator(3UL)
            use output = (torch.randn ([| 13L; 7L |], generator = generator)).relu_()
            use d = torch.randn ([| 13L; 7L |], generator = generator)
            use expected = d * output.gt ((0.0).ToScalar())
            Kernels.reluBackward d output
            Expect.isTrue (Vae.Tests.Shared.same d expected) "91 values, the scalar tail included"
        }
    
        test "the float32 log-likelihood loop scores each row against image i mod n, as the engine's formula does" {
            for pixels in [ 784L; 37L ] do
                use generator = new torch.Generator(9UL)
                use logits = (torch.randn ([| 12L; pixels |], generator = generator)).mul_((8.0).ToScalar())
                use x = torch.rand ([| 4L; pixels |], generator = generator)
                use result = torch.empty ([| 12L |])
                Kernels.bernoulliLogLikelihood logits x result
                // In float64: row i of the logits against image i mod 4.
                use l64 = logits.to_type(float64).view(3L, 4L, pixels)
                use x64 = x.to_type float64
                use expected = ((l64 * x64.unsqueeze 0L).sum(2L) - torch.nn.functional.softplus(l64).sum(2L)).view(12L)
                use difference = (result.to_type float64 - expected).abs().max()
                use scale = expected.abs().max()
                Expect.isLessThan (difference.item<float>()) (1e-6 * scale.item<float>()) $"{pixels} pixels: largest difference"
        }
    ]
