/// What a run does, as values: the settings that override the definitions, and the jobs (train,
/// measure, estimate the likelihood of each model in each repeat) with their dependencies.
module Vae.Core.RunPlan

open System
open System.Diagnostics
open TorchSharp
open Vae.Core.Data
open Vae.Core.Training
open Vae.Core.Experiments

/// Settings of a run that override the definitions'.
type RunSettings =
    { /// Train on a small subset for one or two epochs, and measure on small subsets (a smoke test).
      Quick: bool
      /// Replaces every experiment's maximum epochs.
      Epochs: int option
      /// Replaces every experiment's training seed.
      Seed: int64 option
      /// Replaces every experiment's number of repeats.
      Repeats: int option
      /// Replaces every experiment's batch size.
      BatchSize: int option
      /// Replaces every experiment's learning rate.
      LearningRate: float option
      /// Models trained at once (see `run`); None: `defaultLanes ()`.
      Lanes: int option }

module RunSettings =
    /// No overrides.
    let none = { Quick = false; Epochs = None; Seed = None; Repeats = None; BatchSize = None; LearningRate = None; Lanes = None }

    /// The first override that breaks the bound a definition's value has, as (option as the command
    /// line spells it, problem): a seed above `MaxSeed` would overflow in the seeds a run derives from it.
    let private firstBroken (settings: RunSettings) : (string * string) option =
        let bounded name (minimum: int64) (maximum: int64) (value: int64 option) =
            match value with
            | Some v when v < minimum -> Some(name, $"must be at least {minimum}, was {v}")
            | Some v when v > maximum -> Some(name, $"must be at most {maximum}, was {v}")
            | _ -> None
        let between name (minimum: int64) (maximum: int64) (value: int64 option) =
            match value with
            | Some v when v < minimum || v > maximum -> Some(name, $"must be between {minimum} and {maximum}, was {v}")
            | _ -> None
        let positive name (value: float option) =
            match value with
            | Some v when not (v > 0.0 && Double.IsFinite v) ->
                Some(name, $"must be a positive number, was {v.ToString(Globalization.CultureInfo.InvariantCulture)}")
            | _ -> None
        let wide = Option.map int64
        [ bounded "--epochs" 1L MaxEpochLimit (wide settings.Epochs)
          bounded "--seed" 0L MaxSeed settings.Seed
          between "--repeats" 1L MaxRepeats (wide settings.Repeats)
          between "--batch-size" 1L (int64 MaxBatchSize) (wide settings.BatchSize)
          positive "--lr" settings.LearningRate
          between "--lanes" 1L 64L (wide settings.Lanes) ]
        |> List.tryPick id

    /// The settings, or the first override that breaks its bound ("--epochs: must be at least 1, was 0").
    let validate (settings: RunSettings) : Result<RunSettings, string> =
        match firstBroken settings with
        | Some(option, problem) -> Error $"{option}: {problem}"
        | None -> Ok settings

    /// The settings; the first override that breaks its bound raises the bad-input error naming the option.
    let check (settings: RunSettings) : RunSettings =
        match firstBroken settings with
        | Some(option, problem) -> InvalidInput.about option problem
        | None -> settings

/// Refuses, naming --batch-size, a batch size that a model of `experiments` could not be trained
/// with on this machine: `Experiments.plan` checked each model's memory with its definition's batch
/// size, and a batch larger than validation's (`Evaluation.BatchSize`) needs more.
let checkMemory (settings: RunSettings) (experiments: ExperimentDefinition list) : unit =
    match settings.BatchSize with
    | None -> ()
    | Some batchSize ->
        let available = Memory.available ()
        for e in experiments do
            let _, height, width = DataSource.trainingShape e.Data.Source
            for m in e.Models do
                match m.Source with
                | Widths design ->
                    match Memory.checkWithin available batchSize (Architecture.ofDesign (height, width) design) with
                    | Error problem -> InvalidInput.about "--batch-size" $"{e.Name}/{m.Name}: {problem}"
                    | Ok _ -> ()
                | ArchitectureOf _
                | BestOf _ -> ()

/// Quick runs train on this many images, validate on this many, for at most two epochs.
[<Literal>]
let QuickTrainingImages = 2048

[<Literal>]
let QuickValidationImages = 512

/// Quick runs fit the probes on this many training images' codes.
[<Literal>]
let QuickProbeImages = 5000

/// The training options an experiment runs with under `settings`.
let effectiveTraining (settings: RunSettings) (e: ExperimentDefinition) : TrainingOptions =
    let t = e.Training
    let t = match settings.Epochs with Some n -> { t with MaxEpochs = n } | None -> t
    let t = match settings.Seed with Some s -> { t with Seed = s } | None -> t
    let t = match settings.BatchSize with Some b -> { t with BatchSize = b } | None -> t
    let t = match settings.LearningRate with Some r -> { t with LearningRate = r } | None -> t
    if settings.Quick then { t with MaxEpochs = min t.MaxEpochs 2 } else t

/// The number of repeats an experiment runs under `settings`.
let effectiveRepeats (settings: RunSettings) (e: ExperimentDefinition) = defaultArg settings.Repeats e.Repeats

/// The analysis an experiment runs under `settings`: a quick run estimates the IWAE bound with
/// 20 samples on 100 images.
let effectiveAnalysis (settings: RunSettings) (e: ExperimentDefinition) : AnalysisSettings =
    if settings.Quick then { IwaeSamples = min 20 e.Analysis.IwaeSamples; IwaeImages = min 100 e.Analysis.IwaeImages } else e.Analysis

/// What a job of a run does with one model in one repeat.
type JobKind =
    /// Trains the model.
    | Train
    /// Measures the trained model on the test set (losses, latent analysis, probes, pictures).
    | Measure
    /// Estimates its log-likelihood by importance sampling (IWAE; nothing for an autoencoder).
    | Likelihood

/// A job's stable name: the same definition and settings give the same ids, e.g.
/// `task1/baseline/r1/train` (repeats counted from 1, as people count them).
type JobId =
    { Experiment: string
      Model: string
      /// 0-based repeat.
      Repeat: int
      Kind: JobKind }

    override j.ToString() =
        let kind =
            match j.Kind with
            | Train -> "train"
            | Measure -> "measure"
            | Likelihood -> "likelihood"
        $"{j.Experiment}/{j.Model}/r{j.Repeat + 1}/{kind}"

/// One job of a run's plan: it starts once every job in `After` has finished and, if `Exclusive`,
/// while no other exclusive job runs (measurements hold the most memory: one at a time).
type Job = { Id: JobId; After: JobId list; Exclusive: bool }

/// The jobs of a run of `experiments` under `settings`, in the order free lanes take them: a pure
/// value, built without data, engine or threads. Each trained model (every repeat; a bestOf model
/// is not trained, it is its source's) has a training, then a measurement and an IWAE estimate,
/// both after its training. A model that takes another experiment's best architecture trains
/// after every training of that experiment (and of the experiments that one refers to). Order:
/// the trainings others wait for, then those that waited (started as soon as they can, so that
/// none is left to train alone at the end), then the rest, each group in definition order; each
/// training's measurement and estimate follow it, so a free lane measures a trained model before
/// it starts another training. Measuring holds the most memory (thousands of generated images,
/// the probes' distances): one model is measured at a time, beside a training or an IWAE estimate
/// (which takes longest: 14 s for a five-layer VAE on one thread, mostly decoding a million
/// samples).
let jobs (settings: RunSettings) (experiments: ExperimentDefinition list) : Job list =
    let byName = experiments |> List.map (fun e -> e.Name, e) |> Map.ofList
    // The experiments whose trainings a model of `e` waits for: another experiment's best
    // architecture needs that experiment's (and, through bestOf, its sources') trainings.
    let rec upstream (e: ExperimentDefinition) : string list =
        e.Models
        |> List.collect (fun m ->
            match m.Source with
            | ArchitectureOf(_, other)
            | BestOf other -> other :: upstream byName.[other]
            | Widths _ -> [])
    let waitsFor (m: ModelSpec) =
        match m.Source with
        | ArchitectureOf(_, other) -> set (other :: upstream byName.[other])
        | _ -> Set.empty
    let trained =
        [ for e in experiments do
              for r in 0 .. effectiveRepeats settings e - 1 do
                  for m in e.Models do
                      match m.Source with
                      | BestOf _ -> ()
                      | _ -> yield e, r, m ]
    let waitedFor = trained |> List.map (fun (_, _, m) -> waitsFor m) |> Set.unionMany
    let id (e: ExperimentDefinition) r (m: ModelSpec) kind = { Experiment = e.Name; Model = m.Name; Repeat = r; Kind = kind }
    let ordered =
        trained
        |> List.sortBy (fun (e, _, m) ->
            if waitedFor.Contains e.Name then 0
            elif not (waitsFor m).IsEmpty then 1
            else 2)
    [ for e, r, m in ordered do
          let needed = waitsFor m
          let training = id e r m Train
          { Id = training
            After = [ for e', r', m' in ordered do if needed.Contains e'.Name then id e' r' m' Train ]
            Exclusive = false }
          { Id = id e r m Measure; After = [ training ]; Exclusive = true }
          { Id = id e r m Likelihood; After = [ training ]; Exclusive = false } ]
