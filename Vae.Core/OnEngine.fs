/// The core's entry points for callers on any thread (the C# façade, an F# program, a UI): each
/// runs its work on the engine's thread (see EngineThread for why one thread), inline when already
/// there, and returns its result or throws its exception as thrown. The functions before this file
/// run on the thread that calls them; call them from here, or from code these run.
module Vae.Core.OnEngine

open System
open System.Collections.Concurrent
open System.Threading
open System.Threading.Tasks
open TorchSharp
open Vae.Core.Data
open Vae.Core.Experiments
open Vae.Core.RunPlan
open Vae.Core.Outcomes
open Vae.Core.Execution

let private invoke (work: unit -> 'T) : 'T = EngineThread.Invoke(Func<'T> work)

let private start (work: unit -> 'T) : Task<'T> = EngineThread.Run(Func<'T> work)

let private rowsOf (t: torch.Tensor) : float32[][] =
    use contiguous = t.detach().to_type(torch.ScalarType.Float32).contiguous()
    let all = contiguous.data<float32>().ToArray()
    let columns = int t.shape.[1]
    Array.init (int t.shape.[0]) (fun i -> all.[i * columns .. (i + 1) * columns - 1])

/// Rows of `width` values (`what`: "images", "codes") as a [n; width] float32 tensor; a row of
/// another width is refused, naming it.
let private tensorOf (what: string) (width: int) (rows: float32[][]) : torch.Tensor =
    rows
    |> Array.iteri (fun i row ->
        if row.Length <> width then InvalidInput.raise what $"[{i}]" $"has {row.Length} values, the model takes {width}")
    torch.tensor(Array.concat rows).view(int64 rows.Length, int64 width)

/// Rows of a [n; d] tensor as float arrays.
let rows (t: torch.Tensor) : float32[][] = invoke (fun () -> rowsOf t)

/// One column of a [n; d] tensor.
let column (t: torch.Tensor) (column: int) : float32[] =
    invoke (fun () ->
        use c = t.select(1L, int64 column).to_type(torch.ScalarType.Float32).contiguous()
        c.data<float32>().ToArray())

/// The values of a tensor of labels.
let labels (t: torch.Tensor) : int[] = invoke (fun () -> t.data<int64>().ToArray() |> Array.map int)

/// Fashion-MNIST from `directory`, or where `FashionMnist.locate` finds it.
let loadData (directory: string option) : Dataset = invoke (fun () -> FashionMnist.load directory)

/// `loadData`, not waiting for it.
let loadDataAsync (directory: string option) : Task<Dataset> = start (fun () -> FashionMnist.load directory)

/// The data sets `experiments` train on, each loaded once (`DataSource.loadAll`); Fashion-MNIST
/// from `fashionMnistDirectory` or where `FashionMnist.locate` finds it. Not waiting for it.
let loadDataSetsAsync (fashionMnistDirectory: string option) (experiments: ExperimentDefinition list) : Task<Map<DataSource, Dataset>> =
    start (fun () -> DataSource.loadAll fashionMnistDirectory (experiments |> List.map _.Data.Source))

/// Test images start .. start + count − 1, height × width values each.
let testImages (data: Dataset) (start: int) (count: int) : float32[][] =
    invoke (fun () ->
        use images = data.Test.Images.narrow(0L, int64 start, int64 count)
        rowsOf images)

/// Labels of test images start .. start + count − 1.
let testLabels (data: Dataset) (start: int) (count: int) : int[] =
    invoke (fun () ->
        use labels = data.Test.Labels.narrow(0L, int64 start, int64 count)
        labels.data<int64>().ToArray() |> Array.map int)

/// A new model (`Model.create`).
let createModel (seed: int64) (architecture: Architecture) : Model = invoke (fun () -> Model.create seed architecture)

let private trainOnSplit (hooks: Training.TrainingHooks) options resumeFrom splitSeed validationSize (data: Dataset) model =
    hooks.Cancellation.ThrowIfCancellationRequested()
    let training, validation = trainValidationRows splitSeed validationSize data.Train
    Training.trainFromRows hooks options resumeFrom training validation model

/// Trains `model` on the training images less `validationSize` (split by `splitSeed`), validating
/// on those (`Training.train`); the hooks are called on the engine's thread.
let train (hooks: Training.TrainingHooks) (options: Training.TrainingOptions) (splitSeed: int64) (validationSize: int) (data: Dataset) (model: Model) : Training.TrainingResult =
    invoke (fun () -> trainOnSplit hooks options None splitSeed validationSize data model)

/// `train`, not waiting for it.
let trainAsync (hooks: Training.TrainingHooks) (options: Training.TrainingOptions) (splitSeed: int64) (validationSize: int) (data: Dataset) (model: Model) : Task<Training.TrainingResult> =
    start (fun () -> trainOnSplit hooks options None splitSeed validationSize data model)

/// `train` resumed from `state` (`Training.trainFrom`), saved by `TrainingCheckpoint.save` in the
/// hooks' `OnEpochEnd` of a training with the same options, split and model architecture.
let trainFrom (hooks: Training.TrainingHooks) (options: Training.TrainingOptions) (state: Training.TrainingState) (splitSeed: int64) (validationSize: int) (data: Dataset) (model: Model) : Training.TrainingResult =
    invoke (fun () -> trainOnSplit hooks options (Some state) splitSeed validationSize data model)

/// Mean reconstruction, KL and loss per image (`Evaluation.evaluate`).
let evaluate (seed: int64) (model: Model) (split: Split) : Evaluation.Evaluation = invoke (fun () -> Evaluation.evaluate seed model split)

/// The code of each image (`Model.encode`).
let encode (model: Model) (images: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf "images" model.Architecture.Input images |> Model.encode model |> rowsOf)

/// Each image through its code and back (`Model.reconstruct`).
let reconstruct (model: Model) (images: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf "images" model.Architecture.Input images |> Model.reconstruct model |> rowsOf)

/// Images decoded from codes (`Model.decode`).
let decode (model: Model) (codes: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf "codes" model.Architecture.Latent codes |> Model.decode model |> rowsOf)

/// `count` test images as the report shows reconstructions of them (`Analysis.examples`): the first
/// image of each of the data set's `classes` in label order, then the second of each, and so on.
let examples (data: Dataset) (classes: int) (count: int) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        Analysis.examples count classes data.Test |> rowsOf)

/// `count` images decoded from z ~ N(0, I) drawn from `seed` (`Model.generate`).
let generate (seed: int64) (count: int) (model: Model) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        use generator = new torch.Generator(uint64 seed)
        Model.generate generator count model |> rowsOf)

/// Saves `model` (`Checkpoint.save`).
let save (path: string) (model: Model) : unit = invoke (fun () -> Checkpoint.save path model)

/// Loads a model (`Checkpoint.load`).
let load (path: string) : Model = invoke (fun () -> Checkpoint.load path)

/// Loads a training's state (`TrainingCheckpoint.load`); the caller owns its tensors
/// (`Training.TrainingState.dispose`).
let loadTrainingState (path: string) (architecture: Architecture) (options: Training.TrainingOptions) : Training.TrainingState =
    invoke (fun () -> TrainingCheckpoint.load path architecture options)

/// The training benchmark (`Benchmark.run`); `onEpoch` is called on the engine's thread.
let benchmarkAsync (setup: Benchmark.BenchSetup) (onEpoch: Benchmark.Loop -> int -> float -> unit) (cancellation: Threading.CancellationToken) : Task<Benchmark.BenchReport> =
    start (fun () ->
        cancellation.ThrowIfCancellationRequested()
        Benchmark.run setup onEpoch)

/// `Execution.checkStored` on the engine's thread: what `store` holds belongs to a run of `experiments`.
let checkStored (store: JobStore.JobStore) (settings: RunSettings) (data: Map<DataSource, Dataset>) (experiments: ExperimentDefinition list) (mine: Func<JobId, bool>) : unit =
    invoke (fun () -> checkStored store settings data experiments mine.Invoke)

/// A run's outcomes, and how it trained: models at once and libtorch threads each.
type RunOutcome = { Experiments: ExperimentOutcome list; Lanes: int; ThreadsPerLane: int }

/// Runs `experiments` (`Execution.run`) on the engine's thread and its lanes. `onEvent` gets the
/// run's events on one thread of the run's own (not a lane's, nor the caller's), one at a time and in
/// the order the lanes raised them, so it need not be thread-safe; a slow callback holds up the
/// events after it, not the training. Every event has been delivered before the task completes. A
/// callback that throws stops the run (as `cancellation` does): the task fails with its exception,
/// as thrown, and later events are not delivered. `data` holds the data set of each experiment's
/// source (`loadDataSetsAsync`). `store` keeps each job's results and each training's state
/// (`JobStore.folder`), from which a run stopped at any moment resumes; `JobStore.memory` keeps none.
let rec runAsync
    (onEvent: RunEvent -> unit)
    (cancellation: CancellationToken)
    (store: JobStore.JobStore)
    (settings: RunSettings)
    (data: Map<DataSource, Dataset>)
    (experiments: ExperimentDefinition list)
    : Task<RunOutcome> =
    let lanes = invoke (fun () -> effectiveLanes settings)
    executeAsync onEvent cancellation store settings data experiments Whole lanes (threadsPerLane lanes)

/// `runAsync` of `part` of the run (`Execution.execute`) on `lanes` lanes of `perLane` threads:
/// a shard's jobs (no outcomes: they are in the store), or every job.
and executeAsync
    (onEvent: RunEvent -> unit)
    (cancellation: CancellationToken)
    (store: JobStore.JobStore)
    (settings: RunSettings)
    (data: Map<DataSource, Dataset>)
    (experiments: ExperimentDefinition list)
    (part: Part)
    (lanes: int)
    (perLane: int)
    : Task<RunOutcome> =
    // The lanes only queue their events; the run's own thread below delivers them in order.
    let events = new BlockingCollection<RunEvent>()
    // The caller's cancellation, or a callback's exception, stops the run.
    let stop = CancellationTokenSource.CreateLinkedTokenSource cancellation
    // Set by the run before it stops adding events, read once they are all taken.
    let ended = ref (Error(InvalidOperationException "the run did not end" :> exn))
    let work () =
        try
            try
                stop.Token.ThrowIfCancellationRequested()
                let outcomes = execute events.Add stop.Token store settings data experiments part lanes perLane
                ended.Value <- Ok { Experiments = outcomes; Lanes = lanes; ThreadsPerLane = perLane }
            with e ->
                ended.Value <- Error e
        finally
            events.CompleteAdding()
    let completion = TaskCompletionSource<RunOutcome>(TaskCreationOptions.RunContinuationsAsynchronously)
    let deliver () =
        let thrown =
            events.GetConsumingEnumerable()
            |> Seq.fold
                (fun (thrown: exn option) event ->
                    // After a callback has thrown, the rest are taken and dropped: the run can end.
                    if thrown.IsSome then thrown
                    else
                        try
                            onEvent event
                            None
                        with e ->
                            stop.Cancel()
                            Some e)
                None
        stop.Dispose()
        events.Dispose()
        // The exception as thrown (its stack trace is kept), the callback's before the
        // cancellation it caused.
        match thrown, ended.Value with
        | Some e, _
        | None, Error e -> completion.SetException e
        | None, Ok outcome -> completion.SetResult outcome
    // A thread of its own, not the thread pool's: every event is delivered on the same thread. It
    // starts first, so that events are delivered as they come even when the caller is on the
    // engine's thread (where the run then runs inline).
    let dispatcher = Thread(deliver, IsBackground = true, Name = "Vae run events")
    dispatcher.Start()
    start work |> ignore
    completion.Task
