module Vae.Tests.MetricsTests

open System
open Expecto
open Vae.Core
open Vae.Core.Statistics

let private measured recon iwae : Metrics.Measurements =
    { ValidationLoss = recon + 10.0
      TestReconstruction = recon
      TestKl = 10.0
      TestLoss = recon + 10.0
      IwaeNll = iwae
      ActiveUnits = 20.0
      LinearAccuracy = 0.8
      KnnAccuracy = 0.8
      GenerationDistance = 30.0
      FittedGenerationDistance = 20.0
      TrainingSeconds = 5.0
      Beta = 1.0 }

let private summary mean std = { Mean = mean; Std = std; Count = 3 }

[<Tests>]
let tests =
    testList "Metrics" [
        test "Student's t: two-sided p-values and 97.5 % quantiles of a reference table" {
            // Quantiles t(0.975) of the t table: df 1, 2, 4, 10, 30.
            for df, t in [ 1.0, 12.706205; 2.0, 4.302653; 4.0, 2.776445; 10.0, 2.228139; 30.0, 2.042272 ] do
                Expect.floatClose { absolute = 1e-6; relative = 0.0 } (2.0 * Statistics.studentCdf df -t) 0.05 $"df {df}: p at t = {t}"
                Expect.floatClose { absolute = 2e-6; relative = 0.0 } (Statistics.studentQuantile df 0.975) t $"df {df}: quantile"
            Expect.floatClose { absolute = 5e-5; relative = 0.0 } (2.0 * Statistics.studentCdf 10.0 -2.0) 0.0734 "df 10, t = 2: p = 0.0734"
            Expect.floatClose { absolute = 1e-12; relative = 1e-12 } (Statistics.logGamma 5.0) (log 24.0) "ln Γ(5) = ln 24"
            Expect.floatClose { absolute = 1e-12; relative = 1e-12 } (Statistics.logGamma 0.5) (0.5 * log Math.PI) "ln Γ(½) = ½ ln π"
        }

        test "Welch's test gives the textbook example's t, degrees of freedom and p; it does not apply without a spread" {
            // Wikipedia's "Welch's t-test", example 1: t = −2.46, ν ≈ 25.0, p = 0.021.
            let a1 = [ 27.5; 21.0; 19.0; 23.6; 17.0; 17.9; 16.9; 20.1; 21.9; 22.6; 23.1; 19.6; 19.0; 21.7; 21.4 ]
            let a2 = [ 27.1; 22.0; 20.8; 23.4; 23.4; 23.5; 25.8; 22.0; 24.8; 20.2; 21.9; 22.1; 22.9; 20.5; 24.4 ]
            match Statistics.welch (Statistics.summarise a1) (Statistics.summarise a2) with
            | None -> failtest "the test applies"
            | Some w ->
                Expect.floatClose { absolute = 0.005; relative = 0.0 } w.T -2.46 "t"
                Expect.floatClose { absolute = 0.05; relative = 0.0 } w.DegreesOfFreedom 25.0 "degrees of freedom"
                Expect.floatClose { absolute = 0.0005; relative = 0.0 } w.P 0.021 "p"
                Expect.isTrue (w.Low < w.Difference && w.Difference < w.High && w.High < 0.0) "the 95 % interval holds the difference and excludes 0"
                Expect.floatClose Accuracy.high (w.High - w.Difference) (Statistics.studentQuantile w.DegreesOfFreedom 0.975 * w.StandardError) "its half-width is t(0.975) × the standard error"
            Expect.isNone (Statistics.welch (Statistics.summarise [ 1.0 ]) (Statistics.summarise [ 2.0; 3.0 ])) "one repeat"
            Expect.isNone (Statistics.welch (Statistics.summarise [ 1.0; 1.0 ]) (Statistics.summarise [ 2.0; 2.0 ])) "no spread"
        }

        test "every metric has its own key, and the keys are those of results.json" {
            let keys = Metrics.all |> List.map (fun m -> m.Key)
            Expect.equal (List.distinct keys) keys "distinct"
            Expect.equal
                (Set.ofList keys)
                (set [ "valLoss"; "testRecon"; "testKl"; "testLoss"; "testObjective"; "iwaeNll"; "activeUnits"; "linearAccuracy"; "knnAccuracy"
                       "generationDistance"; "fittedGenerationDistance"; "trainingSeconds" ])
                "results.json's summary keys"
        }

        test "the β-weighted test loss exists only for β ≠ 1, as reconstruction + β·KL, and is not judged" {
            let m = measured 250.0 (Some 245.0)
            Expect.isNone (Metrics.testObjective.Read m) "β = 1: the negative ELBO says it"
            Expect.equal (Metrics.testObjective.Read { m with Beta = 4.0 }) (Some(250.0 + 4.0 * 10.0)) "β = 4"
            Expect.isFalse Metrics.testObjective.Judged "models of different β minimise different objectives"
        }

        test "a lead is real only when Welch's t-test rejects equal means at 5 %" {
            Expect.isTrue (leadIsReal (summary 240.0 1.0) (summary 250.0 1.0)) "10 apart, sds 1 and 1, 3 repeats: p ≈ 0.0003"
            Expect.isFalse (leadIsReal (summary 240.0 5.0) (summary 250.0 5.0)) "10 apart, sds 5 and 5: p ≈ 0.07"
            Expect.isTrue (leadIsReal (summary 0.8 0.01) (summary 0.7 0.01)) "either order"
            // The shipped study's task1 validation loss (3 repeats): the lead 1.4644 exceeded sd₁ + sd₂ = 0.1758 + 1.2873,
            // which the old rule called real; Welch's test gives p ≈ 0.19.
            let w = (welch (summary 240.0 0.1758) (summary 241.4644 1.2873)).Value
            Expect.isGreaterThan w.P 0.15 "p"
            Expect.isFalse (leadIsReal (summary 240.0 0.1758) (summary 241.4644 1.2873)) "inconclusive"
            Expect.isTrue (w.Low < 0.0 && w.High > 0.0) "its 95 % interval holds 0"
            Expect.isTrue (leadIsReal (summary 1.0 0.0) (summary 2.0 0.0)) "no spread on either side: the difference is exact"
            Expect.isFalse (leadIsReal { Mean = 1.0; Std = 0.0; Count = 1 } { Mean = 2.0; Std = 0.0; Count = 1 }) "one repeat: nothing is known"
        }

        test "the best is the first on a tie, and a value that is not finite is never ahead of one that is" {
            let values = [ "a", nan; "b", 2.0; "c", 1.0; "d", 1.0 ]
            Expect.equal (best Lower snd values |> Option.map fst) (Some "c") "lowest, first on a tie"
            Expect.equal (best Higher snd values |> Option.map fst) (Some "b") "highest"
            Expect.equal (ranked Lower snd values |> List.map fst) [ "c"; "d"; "b"; "a" ] "NaN last"
            Expect.isNone (best Lower snd []) "no candidates"
        }

        test "a metric an autoencoder lacks is not summarised for it, and its verdict leaves autoencoders out" {
            Expect.isNone (Metrics.summarise Metrics.iwaeNll [ measured 300.0 None ]) "no IWAE NLL"
            Expect.equal (Metrics.summarise Metrics.iwaeNll [ measured 300.0 (Some 290.0) ] |> Option.map _.Mean) (Some 290.0) "a VAE's"
            let ae = "ae", false, summary 200.0 0.0
            let vae = "vae", true, summary 300.0 0.0
            Expect.equal (Metrics.judge Metrics.iwaeNll [ ae; vae ]) (Some(Alone "vae")) "VAEs only"
            Expect.equal (Metrics.judge Metrics.testReconstruction [ ae; vae ]) (Some(Clear("ae", "vae", 100.0))) "every model"
            Expect.isNone (Metrics.judge Metrics.iwaeNll [ ae ]) "no VAE: no verdict"
            // An autoencoder's 20 of 20 "active" units are an unregularised code's variance, not latent usage.
            let aeUnits = "ae", false, summary 20.0 0.0
            let vaeUnits = "vae", true, summary 4.0 0.0
            Expect.equal (Metrics.judge Metrics.activeUnits [ aeUnits; vaeUnits ]) (Some(Alone "vae")) "active units: VAEs only"
        }
    ]
