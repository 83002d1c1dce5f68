/// Measuring a trained model on the test set: losses, the IWAE likelihood, latent usage, probes,
/// generation and the pictures a report draws.
module Vae.Core.Measurement

open System
open System.Diagnostics
open TorchSharp
open Vae.Core.Data
open Vae.Core.Training
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes

/// What measuring needs besides the model: the data, the fixed test images, and the PCA yardstick
/// per code size (computed once per run).
type internal Measuring =
    { Data: Dataset
      ProbeTrain: Split
      ProbeTest: Split
      Originals: torch.Tensor
      InterpolationEnds: torch.Tensor
      Pca: int -> float * float
      /// Fréchet distance of generated images to the test images.
      Frechet: torch.Tensor -> float
      /// Checked between the measurements' steps (each takes at most a few seconds).
      Cancellation: Threading.CancellationToken }

/// The probes' scores of a model from its codes of the probes' training and test images.
let private probeScores (m: Measuring) (model: Model) (trainCodes: torch.Tensor) (testCodes: torch.Tensor) =
    let pcaLinear, pcaKnn = m.Pca model.Architecture.Latent
    { Linear = Probes.linearAccuracy trainCodes m.ProbeTrain.Labels testCodes m.ProbeTest.Labels
      Knn = Probes.knnAccuracy 5 trainCodes m.ProbeTrain.Labels testCodes m.ProbeTest.Labels
      PcaLinear = pcaLinear
      PcaKnn = pcaKnn }

/// Images generated to measure the Fréchet distance (enough for a stable 50 × 50 covariance).
[<Literal>]
let GeneratedForDistance = 5000

/// `work`'s tensor, its temporaries freed as it returns (in the caller's dispose scope).
let private tensorOf (work: unit -> torch.Tensor) =
    use _ = torch.NewDisposeScope()
    (work ()).MoveToOuterDisposeScope()

/// `work`'s value, every tensor it made freed as it returns.
let private valueOf (work: unit -> 'a) =
    use _ = torch.NewDisposeScope()
    work ()

/// Test-set measurements, samples and codes of a trained model.
let internal measure (m: Measuring) (seed: int64) repeat spec architecture (training: TrainingResult) seconds reusedFrom =
    let model = training.Model
    let test = m.Data.Test
    use _ = torch.no_grad ()
    // Every temporary of the measurements is freed here, not when the garbage collector gets to it:
    // the collector does not see the engine's memory, and the run's peak memory grew with it. Each
    // step frees its own temporaries as it ends (`tensorOf`, `valueOf`), so that they do not add up.
    use scope = torch.NewDisposeScope()
    use generator = new torch.Generator(uint64 seed + 7UL)
    let step () = m.Cancellation.ThrowIfCancellationRequested()
    let generated = tensorOf (fun () -> Model.generate generator 9 model)
    use many = tensorOf (fun () -> Model.generate generator GeneratedForDistance model)
    step ()
    use trainCodes = tensorOf (fun () -> Analysis.codes model m.ProbeTrain)
    let fitted =
        use _ = torch.NewDisposeScope()
        let mean, factor = Analysis.fitGaussian trainCodes
        mean.MoveToOuterDisposeScope(), factor.MoveToOuterDisposeScope()
    let generatedFitted = tensorOf (fun () -> Analysis.generateFitted generator 9 fitted model)
    use manyFitted = tensorOf (fun () -> Analysis.generateFitted generator GeneratedForDistance fitted model)
    step ()
    use codes = tensorOf (fun () -> Analysis.codes model test)
    let variance = valueOf (fun () -> Analysis.codeVariance model test)
    let traversed = variance |> Array.indexed |> Array.sortByDescending snd |> Array.truncate 2 |> Array.map fst |> List.ofArray
    let kept (work: unit -> torch.Tensor) = (tensorOf work).MoveToOuterDisposeScope()
    step ()
    let generationDistance = valueOf (fun () -> m.Frechet many)
    let fittedGenerationDistance = valueOf (fun () -> m.Frechet manyFitted)
    step ()
    let probe = valueOf (fun () -> probeScores m model trainCodes codes)
    step ()
    { Spec = spec
      Architecture = architecture
      Repeat = repeat
      Training = training
      Test = valueOf (fun () -> Evaluation.evaluate (seed + 3L) model test)
      // Estimated apart (`likelihood`): it takes longest and needs little memory.
      IwaeNll = None
      IwaeStandardError = None
      TrainingSeconds = seconds
      MeasureSeconds = nan
      LikelihoodSeconds = nan
      ReusedFrom = reusedFrom
      GenerationDistance = generationDistance
      FittedGenerationDistance = fittedGenerationDistance
      CodeVariance = variance
      ActiveUnits = Analysis.activeUnits variance
      KlPerDimension = valueOf (fun () -> Analysis.klPerDimension model test)
      Probe = probe
      Generated = generated.MoveToOuterDisposeScope()
      GeneratedFitted = generatedFitted.MoveToOuterDisposeScope()
      Reconstructions = kept (fun () -> Model.reconstruct model m.Originals)
      Interpolation = kept (fun () -> Analysis.interpolate 10 model m.InterpolationEnds.[0L] m.InterpolationEnds.[1L])
      Traversal = kept (fun () -> Analysis.traverse 9 traversed model test)
      TraversalDimensions = traversed
      Latent2d = kept (fun () -> Analysis.principalComponents 2 codes) }

/// The IWAE estimate of a VAE's negative log-likelihood on the first test images, with its standard
/// error (None for an autoencoder): `measure`'s `IwaeNll` and `IwaeStandardError`.
let internal likelihood (m: Measuring) (analysis: AnalysisSettings) (seed: int64) (model: Model) =
    if ModelKind.hasPosterior model.Architecture.Kind then
        let test = m.Data.Test
        Some(Likelihood.estimateCancellable m.Cancellation (seed + 5L) analysis.IwaeSamples model (test.Images.narrow(0L, 0L, int64 (min analysis.IwaeImages test.Count))))
    else None
