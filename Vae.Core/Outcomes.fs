/// What a run leaves: every model's training and measurements, per experiment, and the events
/// that report progress on the way.
module Vae.Core.Outcomes

open System
open System.Diagnostics
open TorchSharp
open Vae.Core.Data
open Vae.Core.Training
open Vae.Core.Experiments
open Vae.Core.RunPlan

/// Accuracy of classifiers fitted on codes: a linear probe and 5-nearest neighbours, and the same
/// on a PCA projection of the pixels to as many dimensions as the code has.
type ProbeScores = { Linear: float; Knn: float; PcaLinear: float; PcaKnn: float }

/// A trained (or reused) model with what a report needs of it.
type ModelOutcome =
    { Spec: ModelSpec
      Architecture: Architecture
      /// 0-based repeat.
      Repeat: int
      /// The training's history and best epoch. Its model's tensors are freed once the model is
      /// measured (`Execution.run`): its weights are in the run folder's checkpoint.
      Training: TrainingResult
      Test: Evaluation.Evaluation
      /// IWAE negative log-likelihood estimate on the test images (VAEs only).
      IwaeNll: float option
      /// The IWAE estimate's standard error over the test images (`Likelihood.Estimate`).
      IwaeStandardError: float option
      TrainingSeconds: float
      /// Wall-clock seconds of the measuring job (test losses, probes, distances, pictures), as it
      /// ran on its lane; NaN when not recorded (a job file written before they were).
      MeasureSeconds: float
      /// Wall-clock seconds of the IWAE estimate's job; NaN for an autoencoder (it has none) and
      /// when not recorded.
      LikelihoodSeconds: float
      /// Set when the model was taken, trained, from another experiment: (experiment, model).
      ReusedFrom: (string * string) option
      /// Fréchet distance (Analysis.frechetDistance, the pixels' first 50 principal components)
      /// between the test images and 5,000 images generated from z ~ N(0, I).
      GenerationDistance: float
      /// The same for 5,000 images generated from a Gaussian fitted to the training codes.
      FittedGenerationDistance: float
      /// Per latent dimension, the variance over the test set of its posterior mean (or code).
      CodeVariance: float[]
      /// Latent dimensions whose code variance is above 0.01.
      ActiveUnits: int
      /// Mean KL divergence per latent dimension on the test set (zeros for an autoencoder).
      KlPerDimension: float[]
      Probe: ProbeScores
      /// Nine images from z ~ N(0, I) ([9; pixels]).
      Generated: torch.Tensor
      /// Nine images from a Gaussian fitted (full covariance) to the training codes ([9; pixels]).
      GeneratedFitted: torch.Tensor
      /// Reconstructions of the experiment's nine test images ([9; pixels]).
      Reconstructions: torch.Tensor
      /// Ten images along the line between the codes of two test images of different classes.
      Interpolation: torch.Tensor
      /// Rows of nine images moving each of the two most active units from −3 to +3 standard deviations.
      Traversal: torch.Tensor
      /// The latent dimensions the traversal moves, most active first.
      TraversalDimensions: int list
      /// The test set's codes on their first two principal components ([test images; 2]).
      Latent2d: torch.Tensor }

    /// This repeat's numbers, as the metrics (Metrics.all) read them.
    member m.Measurements: Metrics.Measurements =
        { ValidationLoss = m.Training.Best.ValidationLoss
          TestReconstruction = m.Test.Reconstruction
          TestKl = m.Test.Kl
          TestLoss = m.Test.Loss
          IwaeNll = m.IwaeNll
          ActiveUnits = float m.ActiveUnits
          LinearAccuracy = m.Probe.Linear
          KnnAccuracy = m.Probe.Knn
          GenerationDistance = m.GenerationDistance
          FittedGenerationDistance = m.FittedGenerationDistance
          TrainingSeconds = m.TrainingSeconds
          Beta = m.Architecture.Beta }

/// A model whose training diverged (a NaN or infinite loss) in at least one repeat: it is not
/// measured and never best. Its repeats that did not diverge are listed too, trained but unmeasured.
type DivergedOutcome =
    { Spec: ModelSpec
      Architecture: Architecture
      /// Every repeat's training, in repeat order (0-based repeat, result).
      Trainings: (int * TrainingResult) list }

/// An experiment's outcome: every repeat of every model, and the best by mean validation loss.
type ExperimentOutcome =
    { Definition: ExperimentDefinition
      Training: TrainingOptions
      Analysis: AnalysisSettings
      StartedUtc: DateTime
      /// The data set it trained on.
      Data: Description
      /// The nine test images every model reconstructs (`Analysis.examples`: with ten classes, one
      /// of each of the first nine).
      Originals: torch.Tensor
      /// The two test images interpolated between: the first of each class of `Data.Interpolation`
      /// (for Fashion-MNIST a T-shirt/top and a sneaker).
      InterpolationEnds: torch.Tensor
      TestLabels: torch.Tensor
      /// Per repeat, every model that did not diverge, in definition order.
      Repeats: ModelOutcome list list
      /// The models that diverged in some repeat, in definition order.
      Diverged: DivergedOutcome list }

    /// The first repeat's models: the pictures are drawn from them.
    member o.Models = List.head o.Repeats

    /// Every repeat of the model named `name`.
    member o.RepeatsOf(name: string) = o.Repeats |> List.map (List.find (fun m -> m.Spec.Name = name))

    /// Mean over repeats of a model's best validation loss.
    member o.MeanValidationLoss(name: string) = o.RepeatsOf name |> List.averageBy (fun m -> m.Training.Best.ValidationLoss)

    /// The model with the lowest mean best-epoch validation loss; None when every model diverged.
    member o.Best = o.Models |> Statistics.best Statistics.Lower (fun m -> o.MeanValidationLoss m.Spec.Name)

/// What a run reports as it goes, one event per step of a model in a repeat. A trained model
/// gives Started, then Batch and Epoch as it trains, then either Diverged (it is not measured) or
/// a Measured for each of its two measurement jobs and Finished after the second. A model taken
/// from another experiment's best (bestOf) is not trained: it gives Finished alone, once that
/// experiment's outcome is known. `Job` is the plan's job (`RunPlan.jobs`) the event belongs to.
/// A resumed run reports a training it had finished, or the epochs a training had done before it
/// stopped, as Started and Epoch events again (without Batch events).
type RunEvent =
    /// A model's training (a `Train` job) starts: at most `MaxEpochs` epochs of `Batches` batches.
    | Started of Job: JobId * MaxEpochs: int * Batches: int
    /// A batch of training is done: `Done` of the `Batches` batches of epoch `Epoch` (1-based).
    | Batch of Job: JobId * Epoch: int * Done: int * Batches: int
    /// An epoch of training is done and validated.
    | Epoch of Job: JobId * Record: EpochRecord
    /// Training stopped at a NaN or infinite loss (`Training.DivergedAt`): the model is not
    /// measured and never best.
    | Diverged of Job: JobId * Training: TrainingResult
    /// A measurement job (`Measure` or `Likelihood`) of a trained model is done.
    | Measured of Job: JobId
    /// A model of `Experiment` is trained and measured, or taken from another experiment
    /// (`Outcome.ReusedFrom`).
    | Finished of Experiment: string * Outcome: ModelOutcome
