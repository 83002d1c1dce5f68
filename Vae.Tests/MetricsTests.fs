module Vae.Tests.MetricsTests

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
        test "every metric has its own key, and the keys are those of results.json" {
            let keys = Metrics.all |> List.map (fun m -> m.Key)
            Expect.equal (List.distinct keys) keys "distinct"
            Expect.equal
                (Set.ofList keys)
                (set [ "valLoss"; "testRecon"; "testKl"; "testLoss"; "iwaeNll"; "activeUnits"; "linearAccuracy"; "knnAccuracy"
                       "generationDistance"; "fittedGenerationDistance"; "trainingSeconds" ])
                "results.json's summary keys"
        }

        test "a lead is real only when the means differ by more than the two standard deviations combined" {
            Expect.isTrue (beyondNoise (summary 240.0 1.0) (summary 250.0 1.0)) "10 apart, sds 1 + 1"
            Expect.isFalse (beyondNoise (summary 240.0 5.0) (summary 250.0 5.0)) "10 apart, sds 5 + 5: not more than the noise"
            Expect.isTrue (beyondNoise (summary 0.8 0.01) (summary 0.7 0.01)) "either order"
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
        }
    ]
