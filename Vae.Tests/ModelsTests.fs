module Vae.Tests.ModelsTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private tiny kind = architecture kind 6 [ 5; 4 ] 3

/// The loss of a fixed batch with fixed sampling noise, as a function of the parameters alone.
let private lossOf (model: Model) (x: torch.Tensor) =
    use generator = new torch.Generator(99UL)
    (Losses.terms generator model x |> Losses.loss).sum()

let private gradientCheck kind =
    let model = Model.create 3L (tiny kind) |> Model.convert torch.ScalarType.Float64
    use generator = new torch.Generator(5UL)
    use x = torch.rand([| 4L; 6L |], dtype = torch.ScalarType.Float64, generator = generator)
    model.Parameters.Gradients.zero_() |> ignore
    (lossOf model x).backward()
    let analytic = values model.Parameters.Gradients
    let h = 1e-6
    let numeric =
        Array.init analytic.Length (fun i ->
            let at delta =
                use _ = torch.no_grad ()
                let p = model.Parameters.Values
                let original = p.[int64 i].item<float>()
                p.[int64 i] <- torch.tensor(original + delta, dtype = torch.ScalarType.Float64)
                let loss = (lossOf model x).item<float>()
                p.[int64 i] <- torch.tensor(original, dtype = torch.ScalarType.Float64)
                loss
            (at h - at -h) / (2.0 * h))
    Array.iteri2 (fun i a n -> Expect.floatClose { absolute = 1e-6; relative = 1e-5 } a n $"parameter {i}") analytic numeric
    // A tiny ReLU network has dead units; still, a good share of the gradients must be live.
    Expect.isGreaterThan (analytic |> Array.filter (fun g -> g <> 0.0) |> Array.length) (analytic.Length / 3) "gradients are mostly non-zero"

[<Tests>]
let tests =
    testList "Models" [
        test "the five-layer VAE mirrors its encoder: 784-400-200-100-20 and 20-100-200-400-784" {
            let names = Architecture.layout Architecture.fiveLayer |> List.map (fun s -> s.Name, s.Shape)
            Expect.equal
                names
                [ "encoder.0.weight", [ 400L; 784L ]; "encoder.0.bias", [ 400L ]
                  "encoder.1.weight", [ 200L; 400L ]; "encoder.1.bias", [ 200L ]
                  "encoder.2.weight", [ 100L; 200L ]; "encoder.2.bias", [ 100L ]
                  "encoder.head.weight", [ 40L; 100L ]; "encoder.head.bias", [ 40L ]
                  "decoder.0.weight", [ 100L; 20L ]; "decoder.0.bias", [ 100L ]
                  "decoder.1.weight", [ 200L; 100L ]; "decoder.1.bias", [ 200L ]
                  "decoder.2.weight", [ 400L; 200L ]; "decoder.2.bias", [ 400L ]
                  "decoder.output.weight", [ 784L; 400L ]; "decoder.output.bias", [ 784L ] ]
                "layout"
            Expect.equal (string Architecture.fiveLayer) "VAE 784-400-200-100-20" "description"
        }

        test "parameter counts follow from the widths" {
            let linear i o = int64 (i * o + o)
            Expect.equal (Architecture.parameterCount Architecture.baseline) (linear 784 400 + linear 400 40 + linear 20 400 + linear 400 784) "baseline VAE"
            let ae = Architecture.create Autoencoder [ 400 ] 20
            Expect.equal (Architecture.parameterCount ae) (linear 784 400 + linear 400 20 + linear 20 400 + linear 400 784) "autoencoder: one linear layer to z"
            Expect.equal (Model.parameterCount (Model.create 1L Architecture.fiveLayer)) (Architecture.parameterCount Architecture.fiveLayer) "allocated"
        }

        test "each model kind is declared once: its key reads back as itself, keys and labels are distinct, the head follows the posterior" {
            for kind in ModelKind.all do
                Expect.equal (ModelKind.tryOfKey (ModelKind.key kind)) (Some kind) $"{kind} round-trips through its key"
                Expect.equal (ModelKind.headWidth kind 20L) (if ModelKind.hasPosterior kind then 40L else 20L) $"{kind}'s head"
                let model = Model.create 1L (Architecture.create kind [ 8 ] 3)
                use x = torch.rand (2L, 784L)
                let hasPosterior = match Model.encodeCode model x with Posterior _ -> true | Point _ -> false
                Expect.equal hasPosterior (ModelKind.hasPosterior kind) $"{kind}'s encoder gives what the kind declares"
            Expect.equal (ModelKind.all |> List.map ModelKind.key |> List.distinct |> List.length) ModelKind.all.Length "distinct keys"
            Expect.equal (ModelKind.all |> List.map ModelKind.label |> List.distinct |> List.length) ModelKind.all.Length "distinct labels"
            Expect.equal (ModelKind.tryOfKey "beta-vae") None "an unknown key"
            Expect.equal (ModelKind.keys ()) "\"vae\" or \"ae\"" "the keys in messages"
        }

        test "invalid architectures are refused, naming the rule" {
            Expect.equal (Architecture.tryCreate Vae 784 [ 400; 0 ] 20 |> Result.mapError id) (Error "hidden[1]: must be at least 1, was 0") "width"
            Expect.equal (Architecture.tryCreate Vae 784 [ 400 ] 0 |> Result.mapError id) (Error "latent: must be at least 1, was 0") "latent"
            Expect.throwsT<InvalidInputException> (fun () -> Architecture.create Autoencoder [ -3 ] 2 |> ignore) "create raises the bad-input error"
        }

        test "initialisation is PyTorch's: U(−1/√fan_in, 1/√fan_in), seeded" {
            let a = Model.create 11L Architecture.baseline
            let b = Model.create 11L Architecture.baseline
            let c = Model.create 12L Architecture.baseline
            Expect.isTrue (same (a.Parameters.Values) (b.Parameters.Values)) "same seed, same weights"
            Expect.isFalse (same (a.Parameters.Values) (c.Parameters.Values)) "other seed, other weights"
            let w = values (Model.denseLayers a.Encoder).Head.Weight
            let bound = 1.0 / sqrt 784.0
            Expect.isTrue (w |> Array.forall (fun v -> abs v <= bound)) "within the bound"
            Expect.isGreaterThan (Array.max w) (0.95 * bound) "reaching it"
        }

        test "encode, reconstruct and generate have the expected shapes and ranges" {
            let model = Model.create 1L Architecture.fiveLayer
            use _ = torch.no_grad ()
            let x = dataset.Value.Test.Images.narrow(0L, 0L, 9L)
            Expect.equal (Model.encode model x).shape [| 9L; 20L |] "codes"
            let r = Model.reconstruct model x
            Expect.equal r.shape [| 9L; 784L |] "reconstructions"
            Expect.isTrue (values r |> Array.forall (fun v -> v >= 0.0 && v <= 1.0)) "pixels in [0, 1]"
            use generator = new torch.Generator(1UL)
            Expect.equal (Model.generate generator 5 model).shape [| 5L; 784L |] "generated"
            match Model.encodeCode model x with
            | Posterior(m, v) -> Expect.equal (m.shape, v.shape) ([| 9L; 20L |], [| 9L; 20L |]) "μ and log σ²"
            | Point _ -> failtest "a VAE has a posterior"
            let ae = Model.create 1L (Architecture.create Autoencoder [ 400; 200; 100 ] 20)
            match Model.encodeCode ae x with
            | Point z -> Expect.equal z.shape [| 9L; 20L |] "z"
            | Posterior _ -> failtest "an autoencoder has a point code"
        }

        test "gradients of a tiny VAE agree with finite differences" { gradientCheck Vae }
        test "gradients of a tiny autoencoder agree with finite differences" { gradientCheck Autoencoder }
    ]
