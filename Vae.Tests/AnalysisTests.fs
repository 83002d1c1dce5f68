module Vae.Tests.AnalysisTests

open Expecto
open TorchSharp
open Vae.Core
open Vae.Core.Statistics
open Vae.Tests.Shared

/// A baseline VAE trained for one epoch on 12,800 images: enough to have a real posterior.
let private trained =
    lazy (
        let train, validation = trainValidation.Value
        let options = { Training.TrainingOptions.defaults with MaxEpochs = 1; Patience = None; Seed = 3L }
        (Training.train Training.TrainingHooks.none options (Data.take 12800 train) (Data.take 1000 validation) (Model.create 3L Architecture.baseline)).Model)

/// Ten well-separated Gaussian clusters in 5 dimensions, `perClass` points each.
let private clusters (seed: uint64) (perClass: int) =
    use generator = new torch.Generator(seed)
    let centres = torch.randn([| 10L; 5L |], generator = generator) * 20.0f
    let labels = torch.arange(10L).repeat_interleave(int64 perClass)
    let points = centres.index_select(0L, labels) + torch.randn([| 10L * int64 perClass; 5L |], generator = generator)
    points, labels

[<Tests>]
let tests =
    testSequenced <| testList "Analysis" [
        test "the IWAE estimate is at least as tight as the ELBO and does not loosen as k grows" {
            let model = trained.Value
            let images = (Data.take 500 dataset.Value.Test)
            let elbo = (Evaluation.evaluate 0L model images).Loss
            let bounds = [ 1; 10; 100 ] |> List.map (fun k -> Likelihood.iwaeNll 11L k model images.Images)
            Expect.floatClose { absolute = 1.0; relative = 0.0 } bounds.[0] elbo "k = 1 is the ELBO (up to sampling noise)"
            Expect.isLessThan bounds.[1] elbo "k = 10 is tighter than the ELBO"
            Expect.isLessThanOrEqual bounds.[2] bounds.[1] "k = 100 is no looser than k = 10"
            Expect.isGreaterThan (elbo - bounds.[2]) 0.5 $"the gap is real: ELBO {elbo:F2}, IWAE(100) {bounds.[2]:F2}"
        }

        test "an encoder whose μ head outputs a constant has 0 active units" {
            let model = Model.create 1L Architecture.baseline
            let silence () =
                use _ = torch.no_grad ()
                model.EncoderHead.Weight.narrow(0L, 0L, 20L).zero_() |> ignore
            silence ()
            let variances = Analysis.codeVariance model (Data.take 2000 dataset.Value.Test)
            Expect.equal (Analysis.activeUnits variances) 0 "no active unit"
            Expect.isGreaterThan (Analysis.activeUnits (Analysis.codeVariance trained.Value dataset.Value.Test)) 0 "a trained VAE has some"
        }

        test "the KL per dimension sums to the KL term" {
            let model = trained.Value
            let test = Data.take 2000 dataset.Value.Test
            let perDimension = Analysis.klPerDimension model test
            Expect.hasLength perDimension 20 "one per latent dimension"
            Expect.floatClose Accuracy.medium (Array.sum perDimension) (Evaluation.evaluate 0L model test).Kl "sums to the mean KL"
        }

        test "the linear probe and kNN reach near 100 % on well-separated clusters" {
            let trainX, trainY = clusters 1UL 100
            let testX, testY = clusters 1UL 30
            Expect.isGreaterThan (Probes.linearAccuracy trainX trainY testX testY) 0.97 "linear"
            Expect.isGreaterThan (Probes.knnAccuracy 5 trainX trainY testX testY) 0.97 "kNN"
        }

        test "the linear probe fits its weights even when called under no_grad" {
            let trainX, trainY = clusters 1UL 100
            let testX, testY = clusters 1UL 30
            use _ = torch.no_grad ()
            Expect.isGreaterThan (Probes.linearAccuracy trainX trainY testX testY) 0.97 "linear, as a run measures it"
        }

        test "the linear probe and kNN are at chance level on random labels" {
            let trainX, _ = clusters 2UL 200
            let testX, _ = clusters 3UL 200
            use generator = new torch.Generator(4UL)
            let randomLabels n = torch.randint(10L, [| n |], generator = generator)
            let trainY, testY = randomLabels 2000L, randomLabels 2000L
            let linear = Probes.linearAccuracy trainX trainY testX testY
            let knn = Probes.knnAccuracy 5 trainX trainY testX testY
            Expect.isTrue (linear > 0.05 && linear < 0.15) $"linear {linear}"
            Expect.isTrue (knn > 0.05 && knn < 0.15) $"kNN {knn}"
        }

        test "samples from a fitted Gaussian have the codes' mean and covariance" {
            use generator = new torch.Generator(5UL)
            let codes = torch.randn([| 20000L; 3L |], generator = generator).matmul(torch.tensor([| 2.0f; 0.0f; 0.0f; 1.0f; 1.0f; 0.0f; 0.0f; 0.5f; 0.1f |]).view(3L, 3L)) + 4.0f
            let mean, factor = Analysis.fitGaussian codes
            let covariance = factor.matmul(factor.t())
            Expect.floatClose { absolute = 0.05; relative = 0.0 } (float (mean.[0L].item<float32>())) 4.0 "mean"
            // Rows of A are the weights above: the covariance of ε A is Aᵀ A.
            let expected = torch.tensor([| 5.0f; 1.0f; 0.0f; 1.0f; 1.25f; 0.05f; 0.0f; 0.05f; 0.01f |]).view(3L, 3L)
            Expect.isLessThan ((covariance - expected).abs().max().item<float32>()) 0.1f "covariance"
        }

        test "interpolation runs from one reconstruction to the other; a traversal has a row per dimension" {
            let model = trained.Value
            let x = dataset.Value.Test.Images
            let path = Analysis.interpolate 10 model x.[0L] x.[1L]
            Expect.equal path.shape [| 10L; 784L |] "ten steps"
            use _ = torch.no_grad ()
            let ends = Model.reconstruct model (x.narrow(0L, 0L, 2L))
            Expect.isLessThan ((path.[0L] - ends.[0L]).abs().max().item<float32>()) 1e-5f "starts at the first"
            Expect.isLessThan ((path.[9L] - ends.[1L]).abs().max().item<float32>()) 1e-5f "ends at the second"
            Expect.equal (Analysis.traverse 7 [ 3; 5 ] model (Data.take 1000 dataset.Value.Test)).shape [| 14L; 784L |] "2 × 7"
        }

        test "the Fréchet distance in PCA space is near 0 between real image sets and large for faint ones" {
            let directions, mean = Probes.pcaFit FashionMnist.Pixels (Data.take 20000 dataset.Value.Train).Images
            let pca = directions.narrow(1L, 0L, int64 Analysis.FrechetComponents), mean
            let test = dataset.Value.Test.Images
            let other = (Data.take 5000 dataset.Value.Train).Images
            let real = Analysis.frechetDistance pca test other
            let faint = Analysis.frechetDistance pca test (other * 0.4f)
            Expect.isTrue (real >= 0.0 && real < 0.5) $"two real sets: {real}"
            Expect.isGreaterThan faint (50.0 * real) $"faint images: {faint}"
            Expect.floatClose { absolute = 0.05; relative = 0.05 } (Analysis.frechetDistance pca other test) real "symmetric"
        }

        test "repeats: mean, standard deviation, and a verdict only beyond the noise" {
            let s = summarise [ 250.0; 252.0; 254.0 ]
            Expect.equal (s.Mean, s.Std, s.Count) (252.0, 2.0, 3) "mean ± sd"
            Expect.equal (summarise [ 7.0 ]).Std 0.0 "one repeat has no spread"
            let a = summarise [ 240.0; 241.0; 242.0 ]
            let b = summarise [ 250.0; 251.0; 252.0 ]
            Expect.equal (verdict Lower [ "b", b; "a", a ]) (Clear("a", "b", 10.0)) "10 apart, sds 1 + 1"
            let c = summarise [ 241.0; 246.0; 251.0 ]
            Expect.equal (verdict Lower [ "a", a; "c", c ]) (WithinNoise("a", "c", 5.0)) "5 apart, sds 1 + 5: within noise"
            Expect.equal (verdict Higher [ "a", a; "c", c ]) (WithinNoise("c", "a", 5.0)) "higher is better"
            Expect.equal (verdict Lower [ "a", a ]) (Alone "a") "alone"
        }
    ]
