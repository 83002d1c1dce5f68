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


/// Three overlapping classes in 4 dimensions (a finite optimum with or without the penalty).
let private overlapping (seed: uint64) (n: int64) =
    use generator = new torch.Generator(seed)
    let labels = torch.randint(3L, [| n |], generator = generator)
    let centres = torch.tensor([| 1.0f; 0.0f; 0.0f; 0.5f; 0.0f; 1.0f; 0.0f; -0.5f; -1.0f; -1.0f; 1.0f; 0.0f |]).view(3L, 4L)
    centres.index_select(0L, labels) + torch.randn([| n; 4L |], generator = generator), labels

/// The optimum of the probe's objective (mean cross-entropy + ½‖W‖²/n, biases unpenalised) by
/// Newton's method with the exact Hessian, in float64: [features + 1; classes], the biases last.
let private newtonOptimum (x: torch.Tensor) (y: torch.Tensor) =
    let n, d = x.shape.[0], x.shape.[1]
    let k = y.max().item<int64>() + 1L
    let f64 = torch.ScalarType.Float64
    let a = torch.cat([| x.to_type(f64); torch.ones([| n; 1L |], dtype = f64) |], 1L)
    let oneHot = torch.nn.functional.one_hot(y, k).to_type(f64)
    let mask = torch.cat([| torch.ones([| d * k |], dtype = f64); torch.zeros([| k |], dtype = f64) |])
    let mutable theta = torch.zeros([| (d + 1L) * k |], dtype = f64)
    for _ in 1..30 do
        let p = torch.softmax(a.matmul(theta.view(d + 1L, k)), 1)
        let gradient = a.t().matmul(p - oneHot).reshape(-1L) / float n + theta * mask / float n
        // H[(i,c),(j,e)] = Σ x_i x_j (δ_ce p_c − p_c p_e) / n, in θ's row-major order (feature, class).
        let outer = torch.einsum("ni,nj,nc,ne->icje", a, a, p, p)
        let diagonal = torch.einsum("ni,nj,nc->icj", a, a, p)
        let hessian = torch.diag_embed(diagonal.permute(0L, 2L, 1L)).permute(0L, 2L, 1L, 3L) - outer
        let hessian = hessian.reshape((d + 1L) * k, (d + 1L) * k) / float n + torch.diag(mask / float n)
        theta <- theta - torch.linalg.solve(hessian, gradient)
    theta.view(d + 1L, k)

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

        test "the IWAE estimate's standard error is the spread of its mean over other draws of the test images" {
            let model = trained.Value
            let images = (Data.take 500 dataset.Value.Test).Images
            let whole = Likelihood.estimate 11L 10 model images
            Expect.equal (Likelihood.iwaeNll 11L 10 model images) whole.Nll "the same estimate as before the standard error was kept"
            let standardError = Expect.wantSome whole.StandardError "500 images have a standard error"
            // Twenty disjoint draws of 25 images: the spread of their means, scaled to 500 images.
            let groups = [ for g in 0L .. 19L -> (Likelihood.estimate (100L + g) 10 model (images.narrow(0L, 25L * g, 25L))).Nll ]
            let mean = List.average groups
            let spread = sqrt ((groups |> List.sumBy (fun v -> (v - mean) ** 2.0)) / 19.0) / sqrt 20.0
            Expect.isTrue (spread / standardError > 0.5 && spread / standardError < 2.0) $"the standard error ({standardError:F3} nats) agrees with the spread of 20 draws' means ({spread:F3} nats, scaled to 500 images)"
            Expect.isLessThan (abs (mean - whole.Nll)) (3.0 * standardError) "the draws' mean estimates the same quantity"
            Expect.isNone (Likelihood.estimate 11L 10 model (images.narrow(0L, 0L, 1L))).StandardError "one image has none"
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

        test "the linear probe's fit is the optimum Newton's method finds, and it says it converged" {
            let x, y = overlapping 11UL 3000L
            let fit = Probes.fitLogistic x y
            Expect.isLessThanOrEqual fit.GradientMax Probes.GradientTolerance "converged"
            Expect.isLessThan fit.Iterations Probes.MaxIterations "before the cap"
            let optimum = newtonOptimum x y
            let weights = optimum.narrow(0L, 0L, 4L)
            let bias = optimum.narrow(0L, 4L, 1L).squeeze(0L)
            let scale = weights.abs().max().item<float>()
            Expect.isGreaterThan scale 0.3 "a non-trivial optimum"
            Expect.isLessThan ((fit.Weights - weights).abs().max().item<float>()) (1e-4 * scale) "weights"
            // Softmax is unchanged by adding a constant to every class's bias: compare them centred.
            let centred (b: torch.Tensor) = b - b.mean()
            Expect.isLessThan ((centred fit.Bias - centred bias).abs().max().item<float>()) (1e-4 * scale) "biases"
        }

        test "the linear probe's penalty is scikit-learn's default: with a weaker one the optimum moves" {
            // The stationarity condition of mean CE + λ/2‖W‖² at the fit: Xᵀ(P − Y)/n = −λW with λ = 1/n.
            let x, y = overlapping 12UL 500L
            let fit = Probes.fitLogistic x y
            let p = torch.softmax(x.to_type(torch.ScalarType.Float64).matmul(fit.Weights) + fit.Bias, 1)
            let residual = x.to_type(torch.ScalarType.Float64).t().matmul(p - torch.nn.functional.one_hot(y, 3L).to_type(torch.ScalarType.Float64)) / 500.0
            Expect.isLessThan ((residual + fit.Weights / 500.0).abs().max().item<float>()) 2e-6 "∇ = 0 with λ = 1/n"
            Expect.isGreaterThan ((residual + fit.Weights / 5000.0).abs().max().item<float>()) 1e-4 "not with λ = 1/(10 n)"
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
