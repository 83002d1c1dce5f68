/// The metrics of a run, declared once: results.json's summaries and verdicts, and the report's tables and
/// sentences, iterate over `all`.
module Vae.Core.Metrics

open Vae.Core.Statistics

/// One repeat's numbers (a model trained with one seed and measured on the test set).
type Measurements =
    { ValidationLoss: float
      TestReconstruction: float
      TestKl: float
      TestLoss: float
      /// VAEs only.
      IwaeNll: float option
      ActiveUnits: float
      LinearAccuracy: float
      KnnAccuracy: float
      GenerationDistance: float
      FittedGenerationDistance: float
      TrainingSeconds: float
      /// The KL term's weight in the training loss (1: the negative ELBO).
      Beta: float }

/// Which models a metric compares.
type Scope =
    /// Every model: the value means the same for a VAE and an autoencoder.
    | AllModels
    /// VAEs only: an autoencoder has no KL term, no ELBO, no likelihood estimate.
    | VaesOnly

/// What a metric tells about a model; the verdict's summary groups the metrics by it.
type Aspect =
    /// The run's criterion for the best model.
    | Selection
    | Reconstruction
    | Likelihood
    | LatentUsage
    | FeatureQuality
    | Generation
    | Cost

/// How a metric's numbers are written.
type Scale =
    /// Nats per image.
    | Nats
    /// A fraction, written as a percentage.
    | Accuracy
    /// A count.
    | Count
    /// A small distance.
    | Distance
    /// Wall-clock seconds.
    | Seconds

/// A metric: its key in results.json, its words, which way is better, which models it compares, and how it is
/// read from one repeat's numbers.
type Metric =
    { /// The key in results.json's `summary` and `verdicts`, e.g. "testRecon".
      Key: string
      /// Its words in a verdict: "test reconstruction".
      Label: string
      /// The report's short name in a sentence: "the IWAE NLL".
      ShortName: string
      Scale: Scale
      Better: Better
      Scope: Scope
      Aspect: Aspect
      /// Whether it gets a verdict (training time and KL are summarised, not judged).
      Judged: bool
      /// Its value in one repeat; None when the model has no such value (an autoencoder's IWAE NLL).
      Read: Measurements -> float option }

let private metric key label shortName scale better scope aspect judged read =
    { Key = key; Label = label; ShortName = shortName; Scale = scale; Better = better; Scope = scope; Aspect = aspect; Judged = judged; Read = read }

/// Mean best-epoch validation loss: the selection criterion.
let validationLoss =
    metric "valLoss" "validation loss" "validation loss" Nats Lower AllModels Selection true (fun m -> Some m.ValidationLoss)

/// Test reconstruction (binary cross-entropy summed over pixels).
let testReconstruction =
    metric "testRecon" "test reconstruction" "test reconstruction" Nats Lower AllModels Reconstruction true (fun m -> Some m.TestReconstruction)

/// Test KL divergence.
let testKl =
    metric "testKl" "test KL" "test KL" Nats Lower VaesOnly Likelihood false (fun m -> Some m.TestKl)

/// Test loss: the negative ELBO.
let testLoss =
    metric "testLoss" "test loss (negative ELBO)" "the negative ELBO" Nats Lower VaesOnly Likelihood true (fun m -> Some m.TestLoss)

/// Test training objective, reconstruction + β·KL: only for a VAE trained with β ≠ 1 (otherwise it is the
/// negative ELBO). Not judged: models of different β minimise different objectives.
let testObjective =
    metric "testObjective" "test training objective (reconstruction + β·KL)" "the β-weighted test loss" Nats Lower VaesOnly Likelihood false (fun m ->
        if m.Beta = 1.0 then None else Some(m.TestReconstruction + m.Beta * m.TestKl))

/// IWAE estimate of the test negative log-likelihood.
let iwaeNll =
    metric "iwaeNll" "test log-likelihood (IWAE negative log-likelihood)" "the IWAE NLL" Nats Lower VaesOnly Likelihood true (fun m -> m.IwaeNll)

/// Active latent units. Judged among VAEs only: an autoencoder's code has no prior pulling it to N(0, I), so its
/// variance against the same threshold says nothing comparable about how many dimensions it uses.
let activeUnits =
    metric "activeUnits" "latent usage (active units)" "active units" Count Higher VaesOnly LatentUsage true (fun m -> Some m.ActiveUnits)

/// Linear probe accuracy on the codes.
let linearAccuracy =
    metric "linearAccuracy" "feature quality (linear probe accuracy)" "the linear probe" Accuracy Higher AllModels FeatureQuality true (fun m -> Some m.LinearAccuracy)

/// 5-NN accuracy on the codes.
let knnAccuracy =
    metric "knnAccuracy" "feature quality (5-NN accuracy)" "5-NN" Accuracy Higher AllModels FeatureQuality true (fun m -> Some m.KnnAccuracy)

/// Fréchet distance of images generated from N(0, I) to the test images.
let generationDistance =
    metric "generationDistance" "generation from N(0, I) (Fréchet distance to the test images)" "generation from N(0, I)" Distance Lower AllModels Generation true (fun m -> Some m.GenerationDistance)

/// The same, generating from a Gaussian fitted to the training codes.
let fittedGenerationDistance =
    metric "fittedGenerationDistance" "generation from a fitted Gaussian (Fréchet distance to the test images)" "generation from the fitted Gaussian" Distance Lower AllModels Generation true (fun m -> Some m.FittedGenerationDistance)

/// Wall-clock training time.
let trainingSeconds =
    metric "trainingSeconds" "training time" "training time" Seconds Lower AllModels Cost false (fun m -> Some m.TrainingSeconds)

/// Every metric, in results.json's order.
let all: Metric list =
    [ validationLoss
      testReconstruction
      testKl
      testLoss
      testObjective
      iwaeNll
      activeUnits
      linearAccuracy
      knnAccuracy
      generationDistance
      fittedGenerationDistance
      trainingSeconds ]

/// The metric of `key`, if there is one.
let tryFind (key: string) = all |> List.tryFind (fun m -> m.Key = key)

/// The metric's summary over repeats, when every repeat has a value.
let summarise (metric: Metric) (repeats: Measurements list) : Summary option =
    let values = repeats |> List.map metric.Read
    if values |> List.forall Option.isSome then Some(values |> List.choose id |> Statistics.summarise) else None

/// The verdict on a judged metric among (model, kind is VAE, summary) candidates, those out of its scope left out;
/// None when no candidate is in scope.
let judge (metric: Metric) (candidates: (string * bool * Summary) list) : Verdict option =
    match candidates |> List.filter (fun (_, isVae, _) -> metric.Scope = AllModels || isVae) with
    | [] -> None
    | inScope -> Some(verdict metric.Better (inScope |> List.map (fun (name, _, s) -> name, s)))
