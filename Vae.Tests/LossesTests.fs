module Vae.Tests.LossesTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Vae.Core
open Vae.Tests.Shared

let private float64 (xs: float[]) = torch.tensor(xs, dtype = torch.ScalarType.Float64).unsqueeze(0L)

/// A diagonal Gaussian: (μ, log σ²) pairs of one image, 1 to 12 dimensions.
let private gaussians (meanRange: float) (logVarianceRange: float) =
    gen {
        let! n = Gen.choose (1, 12)
        let value range = Gen.choose (-1_000_000, 1_000_000) |> Gen.map (fun i -> float i / 1e6 * range)
        let! means = Gen.arrayOfLength n (value meanRange)
        let! logVariances = Gen.arrayOfLength n (value logVarianceRange)
        return means, logVariances
    }
    |> Arb.fromGen

/// Logits and targets of one image.
let private logitsAndTargets (range: float) =
    gen {
        let! n = Gen.choose (1, 20)
        let! logits = Gen.arrayOfLength n (Gen.choose (-1_000_000, 1_000_000) |> Gen.map (fun i -> float i / 1e6 * range))
        let! targets = Gen.arrayOfLength n (Gen.choose (0, 1000) |> Gen.map (fun i -> float i / 1000.0))
        return logits, targets
    }
    |> Arb.fromGen

let private kl (means, logVariances) =
    use m = float64 means
    use v = float64 logVariances
    (Losses.klDivergence m v).item<float>()

let private bce (logits: float[], targets: float[]) dtype =
    use l = torch.tensor(logits, dtype = dtype).unsqueeze(0L)
    use x = torch.tensor(targets, dtype = dtype).unsqueeze(0L)
    (Losses.reconstruction l x).to_type(torch.ScalarType.Float64).item<float>()

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

[<Tests>]
let tests =
    testList "Losses" [
        testPropertyWithConfig config "KL divergence is never negative"
            (Prop.forAll (gaussians 50.0 30.0) (fun g -> kl g >= -1e-12))

        test "KL divergence is exactly zero at μ = 0, log σ² = 0" {
            for n in [ 1; 2; 20; 80 ] do
                Expect.equal (kl (Array.zeroCreate n, Array.zeroCreate n)) 0.0 $"{n} dimensions"
        }

        testPropertyWithConfig { config with maxTest = 25 } "KL divergence matches a Monte Carlo estimate"
            (Prop.forAll (gaussians 2.0 2.0) (fun (means, logVariances) ->
                // KL = E_q[log q(z) − log p(z)]; with z = μ + σε the log-density ratio is
                // Σ −½(log σ² + ε²) + ½z². Standard error from the sample itself.
                let samples = 200_000L
                // 200,000 × d doubles per temporary, 25 cases: freed here, not when the collector runs.
                use _ = torch.NewDisposeScope()
                use generator = new torch.Generator(123UL)
                use m = float64 means
                use v = float64 logVariances
                use epsilon = torch.randn([| samples; int64 means.Length |], dtype = torch.ScalarType.Float64, generator = generator)
                use z = m + (v * 0.5).exp() * epsilon
                use ratio = ((v + epsilon.square()) * -0.5 + z.square() * 0.5).sum(1L)
                let estimate = ratio.mean().item<float>()
                let standardError = ratio.std().item<float>() / sqrt (float samples)
                abs (estimate - kl (means, logVariances)) <= 5.0 * standardError + 1e-9))

        testPropertyWithConfig config "BCE from logits equals −[x log σ(l) + (1 − x) log(1 − σ(l))] where that is finite"
            (Prop.forAll (logitsAndTargets 15.0) (fun (logits, targets) ->
                let sigmoid l = 1.0 / (1.0 + exp -l)
                let naive = Array.map2 (fun l x -> -(x * log (sigmoid l) + (1.0 - x) * log (1.0 - sigmoid l))) logits targets |> Array.sum
                let computed = bce (logits, targets) torch.ScalarType.Float64
                Double.IsFinite naive ==> (abs (computed - naive) <= 1e-6 * (1.0 + abs naive))))

        testPropertyWithConfig config "BCE from logits stays finite and non-negative for |l| up to 100, in float32 too"
            (Prop.forAll (logitsAndTargets 100.0) (fun (logits, targets) ->
                [ torch.ScalarType.Float32; torch.ScalarType.Float64 ]
                |> List.forall (fun dtype -> let v = bce (logits, targets) dtype in Double.IsFinite v && v >= -1e-4)))

        test "BCE at saturated logits: |l| = 100 costs 100 nats when wrong and nothing when right" {
            Expect.floatClose Accuracy.high (bce ([| 100.0 |], [| 0.0 |]) torch.ScalarType.Float32) 100.0 "wrong"
            Expect.floatClose Accuracy.high (bce ([| -100.0 |], [| 0.0 |]) torch.ScalarType.Float32) 0.0 "right"
        }

        test "the loss is per image: one value per row, summed over pixels" {
            use logits = torch.zeros([| 3L; 784L |])
            use x = torch.zeros([| 3L; 784L |])
            let r = Losses.reconstruction logits x
            Expect.equal r.shape [| 3L |] "one per image"
            Expect.floatClose Accuracy.medium (float (r.[0L].item<float32>())) (784.0 * log 2.0) "784 pixels at p = ½"
        }

        test "an autoencoder's KL term is zero" {
            use z = torch.ones([| 4L; 3L |])
            Expect.equal (values (Losses.klOf (Point z))) (Array.zeroCreate 4) "zeros"
        }
    ]
