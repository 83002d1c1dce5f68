/// Training: Adam on minibatches, early stopping on the validation loss (the training objective,
/// reconstruction + β·KL), the best epoch's weights restored at the end.
module Vae.Core.Training

open System
open System.Diagnostics
open System.Threading
open TorchSharp
open Vae.Core.Data

/// How to train.
type TrainingOptions =
    { MaxEpochs: int
      BatchSize: int
      LearningRate: float
      /// Stop after this many epochs without a lower validation loss; None trains every epoch.
      Patience: int option
      /// Seeds the shuffling and the VAE's sampling noise (the model's initialisation has its own).
      Seed: int64 }

module TrainingOptions =
    /// The seed study's settings: batch 64, Adam 1e-3, patience 3, at most 15 epochs.
    let defaults = { MaxEpochs = 15; BatchSize = 64; LearningRate = 1e-3; Patience = Some 3; Seed = 1L }

    /// The first rule `options` breaks, if any.
    let validate (options: TrainingOptions) : Result<TrainingOptions, string> =
        if options.MaxEpochs < 1 then Error $"maxEpochs: must be at least 1, was {options.MaxEpochs}"
        elif options.BatchSize < 1 then Error $"batchSize: must be at least 1, was {options.BatchSize}"
        elif not (options.LearningRate > 0.0 && Double.IsFinite options.LearningRate) then
            Error $"learningRate: must be a positive number, was {options.LearningRate}"
        else
            match options.Patience with
            | Some p when p < 1 -> Error $"patience: must be at least 1, was {p}"
            | _ -> Ok options

/// One epoch's record: means per image.
type EpochRecord =
    { Epoch: int
      TrainReconstruction: float
      TrainKl: float
      ValidationReconstruction: float
      ValidationKl: float
      /// Wall-clock seconds of the epoch, validation included.
      Seconds: float }

    /// Training loss (reconstruction + KL).
    member r.TrainLoss = r.TrainReconstruction + r.TrainKl
    /// Validation loss (reconstruction + KL).
    member r.ValidationLoss = r.ValidationReconstruction + r.ValidationKl

/// Where a training stands after `Epoch` completed epochs: everything the next epoch depends on,
/// so that a training resumed from it (`trainFrom`) gives the numbers of one that never stopped.
/// The training it belongs to is named by its architecture, options and split sizes.
type TrainingState =
    { Architecture: Architecture
      Options: TrainingOptions
      /// Images in the training split.
      TrainCount: int
      /// Images in the validation split.
      ValidationCount: int
      /// Epochs completed (1 or more).
      Epoch: int
      /// The model's weights after `Epoch`: the flat parameter buffer.
      Weights: torch.Tensor
      /// The weights of `BestEpoch`, restored when training ends.
      Best: torch.Tensor
      /// The optimizer's moments and steps.
      Adam: Adam.Adam
      /// The shuffling generator's state (`GeneratorState`).
      Shuffle: torch.Tensor
      /// The sampling noise generator's state.
      Noise: torch.Tensor
      /// Epochs 1 .. `Epoch`, in order.
      History: EpochRecord list
      /// The epoch with the lowest validation loss so far.
      BestEpoch: int
      /// Its validation loss, as compared (`objective` of the evaluation, not the record's sum).
      BestLoss: float }

module TrainingState =
    /// The first way a state of `stateArchitecture` and `stateOptions` does not belong to a training
    /// of `architecture` with `options`, if any.
    let settingsMismatch (architecture: Architecture) (options: TrainingOptions) (stateArchitecture: Architecture) (stateOptions: TrainingOptions) : string option =
        let o, s = options, stateOptions
        let patience (p: int option) = p |> Option.map string |> Option.defaultValue "none"
        [ stateArchitecture <> architecture, $"it is of {stateArchitecture}, this training's model is {architecture}"
          s.MaxEpochs <> o.MaxEpochs, $"its maxEpochs is {s.MaxEpochs}, this training's is {o.MaxEpochs}"
          s.BatchSize <> o.BatchSize, $"its batchSize is {s.BatchSize}, this training's is {o.BatchSize}"
          s.LearningRate <> o.LearningRate, $"its learningRate is {s.LearningRate:R}, this training's is {o.LearningRate:R}"
          s.Patience <> o.Patience, $"its patience is {patience s.Patience}, this training's is {patience o.Patience}"
          s.Seed <> o.Seed, $"its seed is {s.Seed}, this training's is {o.Seed}" ]
        |> List.tryFind fst
        |> Option.map snd

    /// The first way `state` does not belong to a training of `architecture` with `options` on
    /// splits of `trainCount` and `validationCount` images, if any.
    let mismatch (architecture: Architecture) (options: TrainingOptions) (trainCount: int) (validationCount: int) (state: TrainingState) : string option =
        settingsMismatch architecture options state.Architecture state.Options
        |> Option.orElse (
            [ state.TrainCount <> trainCount, $"it trained on {state.TrainCount} images, this training has {trainCount}"
              state.ValidationCount <> validationCount, $"it validated on {state.ValidationCount} images, this training has {validationCount}" ]
            |> List.tryFind fst
            |> Option.map snd)

    /// A copy of `state` whose tensors are its own (the state a hook receives is the training's,
    /// valid during the call only).
    let copy (state: TrainingState) : TrainingState =
        { state with
            Weights = state.Weights.clone ()
            Best = state.Best.clone ()
            Adam = { state.Adam with FirstMoment = state.Adam.FirstMoment.clone (); SecondMoment = state.Adam.SecondMoment.clone () }
            Shuffle = state.Shuffle.clone ()
            Noise = state.Noise.clone () }

    /// Frees the tensors of a state the caller owns (a copy, a loaded state); never those of the
    /// state a hook receives, which are the training's.
    let dispose (state: TrainingState) =
        for t in [ state.Weights; state.Best; state.Adam.FirstMoment; state.Adam.SecondMoment; state.Shuffle; state.Noise ] do
            t.Dispose()

/// Callbacks while training. `OnBatch` receives (epoch, batches done, batches per epoch);
/// `OnEpochEnd` the state after each epoch that completed with finite losses, after `OnEpoch`:
/// save it (TrainingCheckpoint.save) to resume from it. Its tensors are the training's own, valid
/// during the call only (`TrainingState.copy` keeps them).
type TrainingHooks =
    { OnEpoch: EpochRecord -> unit
      OnBatch: int -> int -> int -> unit
      OnEpochEnd: TrainingState -> unit
      Cancellation: CancellationToken }

module TrainingHooks =
    /// No callbacks, no cancellation.
    let none = { OnEpoch = ignore; OnBatch = (fun _ _ _ -> ()); OnEpochEnd = ignore; Cancellation = CancellationToken.None }

/// A trained model (holding the best epoch's weights) and its history.
type TrainingResult =
    { Model: Model
      History: EpochRecord list
      /// The epoch with the lowest validation loss (0 when the first epoch diverged).
      BestEpoch: int
      /// The epoch whose training or validation loss was NaN or infinite, when one was: training
      /// stopped there (the divergence guard), and the model holds the weights of `BestEpoch`, if any.
      DivergedAt: int option }

    /// The record of the best epoch.
    member r.Best = r.History |> List.find (fun e -> e.Epoch = r.BestEpoch)

    /// True when training stopped at a NaN or infinite loss.
    member r.Diverged = r.DivergedAt.IsSome

/// The loss training minimises and early stopping compares, per image: reconstruction + β·KL (the
/// negative ELBO when β = 1, reconstruction for an autoencoder).
let objective (architecture: Architecture) (e: Evaluation.Evaluation) =
    if architecture.Beta = 1.0 then e.Loss else e.Reconstruction + architecture.Beta * e.Kl

/// Batches of an epoch over `images` images, the last one short when they do not divide evenly.
let batchesPerEpoch (options: TrainingOptions) (images: int) = (images + options.BatchSize - 1) / options.BatchSize

/// Trains on `train` for one epoch, in a permutation drawn from `shuffle`; returns the optimizer
/// state and the mean training reconstruction and KL per image. A batch whose loss is NaN or
/// infinite ends the epoch there (the divergence guard: nothing after it can recover), and the means
/// returned are then not finite.
let trainEpoch
    (hooks: TrainingHooks)
    (epoch: int)
    (options: TrainingOptions)
    (shuffle: torch.Generator)
    (noise: torch.Generator)
    (adam: Adam.Adam)
    (model: Model)
    (train: Rows)
    =
    let n = Rows.count train
    let batches = batchesPerEpoch options n
    use order = torch.randperm (int64 n, generator = shuffle)
    // Both cores for one model when this thread has two of libtorch's threads (`SplitStep`).
    let split = if SplitStep.applies adam model then Some(new SplitStep.SplitSteps(model, min options.BatchSize n)) else None
    // `use` skips a null: nothing to dispose without a split.
    use _ = split |> Option.map (fun s -> s :> IDisposable) |> Option.toObj
    // On one thread, the direct gradient's workspace (`DirectGradient`), for the epoch.
    let direct =
        if split.IsNone && DirectGradient.applies model then Some(new DirectGradient.Workspace(model, max 2 (min options.BatchSize n))) else None
    use _ = direct |> Option.map (fun w -> w :> IDisposable) |> Option.toObj
    // One batch in its own dispose scope, freed before the next batch starts (a `use` inside the
    // recursive loop below would hold every batch's tensors until the epoch ends).
    let step b (adam: Adam.Adam) =
        hooks.Cancellation.ThrowIfCancellationRequested()
        use scope = torch.NewDisposeScope()
        let start = b * options.BatchSize
        let indices = order.narrow(0L, int64 start, int64 (min options.BatchSize (n - start)))
        let x = Rows.gather indices train
        // Summed over the batch, as the seed study and PyTorch's VAE example do; the
        // gradient overwrites the buffer, so there is nothing to zero. No step on a non-finite
        // gradient: the weights stay those before this batch.
        let adam, loss =
            match split with
            | Some split -> split.Step(noise, adam, x)
            | None ->
                let loss =
                    match direct with
                    | Some workspace when DirectGradient.takes x -> workspace.Pass(Gradients.noiseFor noise model x.shape.[0], model.Parameters.Gradients, x)
                    | _ -> Gradients.lossAndGradient noise model x
                (if Double.IsFinite(loss.Reconstruction + loss.Kl) then Adam.step adam model.Parameters else adam), loss
        hooks.OnBatch epoch (b + 1) batches
        adam, loss
    let rec loop b (adam: Adam.Adam) reconstruction kl =
        if b = batches || not (Double.IsFinite(reconstruction + kl)) then adam, reconstruction, kl
        else
            let adam, loss = step b adam
            loop (b + 1) adam (reconstruction + loss.Reconstruction) (kl + loss.Kl)
    let adam, reconstruction, kl = loop 0 adam 0.0 0.0
    adam, reconstruction / float n, kl / float n

/// Trains `model` on `train`, validating on `validation` after every epoch, from the state
/// `start` if given (its next epoch; the state is left as it was) or from the beginning; stops at
/// `MaxEpochs` or when the validation loss has not improved for `Patience` epochs, and restores
/// the weights of the epoch with the lowest validation loss. The same seed, data and thread count
/// give the same numbers, whether or not the training was resumed: the state holds everything an
/// epoch reads (the weights, Adam's moments and steps, both generators, the best epoch so far).
let trainFromRows (hooks: TrainingHooks) (options: TrainingOptions) (start: TrainingState option) (train: Rows) (validation: Rows) (model: Model) : TrainingResult =
    TrainingOptions.validate options |> InvalidInput.orRaise "training options" |> ignore
    let trainCount, validationCount = Rows.count train, Rows.count validation
    if validationCount = 0 then invalidArg (nameof validation) "the validation split is empty"
    use shuffle = new torch.Generator(uint64 options.Seed)
    use noise = new torch.Generator(uint64 options.Seed + 1UL)
    use best = model.Parameters.Values.clone()
    let first, adam, history, bestEpoch, bestLoss =
        match start with
        | None -> 1, Adam.create options.LearningRate model.Parameters, [], 0, infinity
        | Some state ->
            TrainingState.mismatch model.Architecture options trainCount validationCount state
            |> Option.iter (fun problem -> InvalidInput.about $"training state (epoch {state.Epoch})" $"does not belong to this training: {problem}")
            let values = model.Parameters.Values
            for name, t in [ "Weights", state.Weights; "Best", state.Best; "FirstMoment", state.Adam.FirstMoment; "SecondMoment", state.Adam.SecondMoment ] do
                if t.dtype <> values.dtype || t.shape <> values.shape then
                    invalidArg (nameof start) $"the state's {name} is {t.dtype} {t.shape}, the model's parameters {values.dtype} {values.shape}"
            if state.Adam.LearningRate <> options.LearningRate then
                invalidArg (nameof start) $"the state's Adam has learning rate {state.Adam.LearningRate:R}, its options {options.LearningRate:R}"
            GeneratorState.set shuffle state.Shuffle
            GeneratorState.set noise state.Noise
            (use _ = torch.no_grad ()
             values.copy_ state.Weights |> ignore
             best.copy_ state.Best |> ignore)
            let adam = { state.Adam with FirstMoment = state.Adam.FirstMoment.clone (); SecondMoment = state.Adam.SecondMoment.clone () }
            state.Epoch + 1, adam, List.rev state.History, state.BestEpoch, state.BestLoss
    // The state after `epoch`, for the hook: the training's own tensors and the generators' states,
    // freed when the hook returns.
    let report epoch (adam: Adam.Adam) history bestEpoch bestLoss =
        use shuffleState = GeneratorState.get shuffle
        use noiseState = GeneratorState.get noise
        hooks.OnEpochEnd
            { Architecture = model.Architecture
              Options = options
              TrainCount = trainCount
              ValidationCount = validationCount
              Epoch = epoch
              Weights = model.Parameters.Values
              Best = best
              Adam = adam
              Shuffle = shuffleState
              Noise = noiseState
              History = List.rev history
              BestEpoch = bestEpoch
              BestLoss = bestLoss }
    let rec loop epoch adam history bestEpoch bestLoss =
        let patienceLeft =
            match options.Patience with
            | Some p -> epoch - bestEpoch <= p
            | None -> true
        if epoch > options.MaxEpochs || not patienceLeft then List.rev history, bestEpoch, None
        else
            let clock = Stopwatch.StartNew()
            let adam, trainReconstruction, trainKl = trainEpoch hooks epoch options shuffle noise adam model train
            let trainFinite = Double.IsFinite(trainReconstruction + trainKl)
            // A fixed seed: every epoch is validated with the same noise. A diverged epoch is not
            // validated: its weights are those of the batch before the first non-finite loss.
            let v =
                if trainFinite then Evaluation.evaluateRows (options.Seed + 2L) model validation
                else { Evaluation.Evaluation.Reconstruction = nan; Kl = nan; Loss = nan; Count = 0 }
            let record =
                { Epoch = epoch
                  TrainReconstruction = trainReconstruction
                  TrainKl = trainKl
                  ValidationReconstruction = v.Reconstruction
                  ValidationKl = v.Kl
                  Seconds = clock.Elapsed.TotalSeconds }
            hooks.OnEpoch record
            // A diverged epoch gives no state: resumed from the epoch before, training diverges
            // there again, as the same seed gives the same numbers.
            if not (trainFinite && Double.IsFinite v.Loss) then List.rev (record :: history), bestEpoch, Some epoch
            else
                let loss = objective model.Architecture v
                let improved = bestEpoch = 0 || loss < bestLoss
                if improved then (use _ = torch.no_grad () in best.copy_(model.Parameters.Values) |> ignore)
                let bestEpoch, bestLoss = if improved then epoch, loss else bestEpoch, bestLoss
                let history = record :: history
                report epoch adam history bestEpoch bestLoss
                loop (epoch + 1) adam history bestEpoch bestLoss
    let history, bestEpoch, divergedAt =
        try loop first adam history bestEpoch bestLoss
        finally
            adam.FirstMoment.Dispose()
            adam.SecondMoment.Dispose()
    if bestEpoch > 0 then (use _ = torch.no_grad () in model.Parameters.Values.copy_(best) |> ignore)
    { Model = model; History = history; BestEpoch = bestEpoch; DivergedAt = divergedAt }

/// `trainFromRows` on every image of the splits `train` and `validation`.
let trainFrom (hooks: TrainingHooks) (options: TrainingOptions) (start: TrainingState option) (train: Split) (validation: Split) (model: Model) : TrainingResult =
    trainFromRows hooks options start (All train) (All validation) model

/// Trains `model` from the beginning (`trainFrom` without a state).
let train (hooks: TrainingHooks) (options: TrainingOptions) (train: Split) (validation: Split) (model: Model) : TrainingResult =
    trainFrom hooks options None train validation model
