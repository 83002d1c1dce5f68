/// Training: Adam on minibatches, early stopping on the validation loss, the best epoch's weights
/// restored at the end.
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

/// Callbacks while training. `OnBatch` receives (epoch, batches done, batches per epoch).
type TrainingHooks =
    { OnEpoch: EpochRecord -> unit
      OnBatch: int -> int -> int -> unit
      Cancellation: CancellationToken }

module TrainingHooks =
    /// No callbacks, no cancellation.
    let none = { OnEpoch = ignore; OnBatch = (fun _ _ _ -> ()); Cancellation = CancellationToken.None }

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
    (train: Split)
    =
    let n = train.Count
    let batches = batchesPerEpoch options n
    use order = torch.randperm (int64 n, generator = shuffle)
    // One batch in its own dispose scope, freed before the next batch starts (a `use` inside the
    // recursive loop below would hold every batch's tensors until the epoch ends).
    let step b (adam: Adam.Adam) =
        hooks.Cancellation.ThrowIfCancellationRequested()
        use scope = torch.NewDisposeScope()
        let start = b * options.BatchSize
        let indices = order.narrow(0L, int64 start, int64 (min options.BatchSize (n - start)))
        let x = train.Images.index_select(0L, indices)
        // Summed over the batch, as the seed study and PyTorch's VAE example do; the
        // gradient overwrites the buffer, so there is nothing to zero.
        let loss = Gradients.lossAndGradient noise model x
        // No step on a non-finite gradient: the weights stay those before this batch.
        let adam = if Double.IsFinite(loss.Reconstruction + loss.Kl) then Adam.step adam model.Parameters else adam
        hooks.OnBatch epoch (b + 1) batches
        adam, loss
    let rec loop b (adam: Adam.Adam) reconstruction kl =
        if b = batches || not (Double.IsFinite(reconstruction + kl)) then adam, reconstruction, kl
        else
            let adam, loss = step b adam
            loop (b + 1) adam (reconstruction + loss.Reconstruction) (kl + loss.Kl)
    let adam, reconstruction, kl = loop 0 adam 0.0 0.0
    adam, reconstruction / float n, kl / float n

/// Trains `model` on `train`, validating on `validation` after every epoch; stops at
/// `MaxEpochs` or when the validation loss has not improved for `Patience` epochs, and restores
/// the weights of the epoch with the lowest validation loss. The same seed, data and thread count
/// give the same numbers.
let train (hooks: TrainingHooks) (options: TrainingOptions) (train: Split) (validation: Split) (model: Model) : TrainingResult =
    TrainingOptions.validate options |> InvalidInput.orRaise "training options" |> ignore
    if validation.Count = 0 then invalidArg (nameof validation) "the validation split is empty"
    use shuffle = new torch.Generator(uint64 options.Seed)
    use noise = new torch.Generator(uint64 options.Seed + 1UL)
    use best = model.Parameters.Values.clone()
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
                if trainFinite then Evaluation.evaluate (options.Seed + 2L) model validation
                else { Evaluation.Evaluation.Reconstruction = nan; Kl = nan; Loss = nan; Count = 0 }
            let record =
                { Epoch = epoch
                  TrainReconstruction = trainReconstruction
                  TrainKl = trainKl
                  ValidationReconstruction = v.Reconstruction
                  ValidationKl = v.Kl
                  Seconds = clock.Elapsed.TotalSeconds }
            hooks.OnEpoch record
            if not (trainFinite && Double.IsFinite v.Loss) then List.rev (record :: history), bestEpoch, Some epoch
            elif bestEpoch = 0 || v.Loss < bestLoss then
                (use _ = torch.no_grad () in best.copy_(model.Parameters.Values) |> ignore)
                loop (epoch + 1) adam (record :: history) epoch v.Loss
            else loop (epoch + 1) adam (record :: history) bestEpoch bestLoss
    let adam = Adam.create options.LearningRate model.Parameters
    let history, bestEpoch, divergedAt = loop 1 adam [] 0 infinity
    if bestEpoch > 0 then (use _ = torch.no_grad () in model.Parameters.Values.copy_(best) |> ignore)
    adam.FirstMoment.Dispose()
    adam.SecondMoment.Dispose()
    { Model = model; History = history; BestEpoch = bestEpoch; DivergedAt = divergedAt }
