/// The core's entry points for callers on any thread (the C# façade, an F# program, a UI): each
/// runs its work on the engine's thread (see EngineThread for why one thread), inline when already
/// there, and returns its result or throws its exception as thrown. The functions before this file
/// run on the thread that calls them; call them from here, or from code these run.
module Vae.Core.OnEngine

open System
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

/// Rows of `width` values as a [n; width] float32 tensor; a row of another width is refused,
/// naming it.
let private tensorOf (width: int) (rows: float32[][]) : torch.Tensor =
    rows
    |> Array.iteri (fun i row ->
        if row.Length <> width then raise (ArgumentException $"image {i} has {row.Length} values, the model takes {width}"))
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

let private trainOnSplit (hooks: Training.TrainingHooks) options splitSeed validationSize (data: Dataset) model =
    hooks.Cancellation.ThrowIfCancellationRequested()
    let training, validation = trainValidationSplit splitSeed validationSize data.Train
    Training.train hooks options training validation model

/// Trains `model` on the training images less `validationSize` (split by `splitSeed`), validating
/// on those (`Training.train`); the hooks are called on the engine's thread.
let train (hooks: Training.TrainingHooks) (options: Training.TrainingOptions) (splitSeed: int64) (validationSize: int) (data: Dataset) (model: Model) : Training.TrainingResult =
    invoke (fun () -> trainOnSplit hooks options splitSeed validationSize data model)

/// `train`, not waiting for it.
let trainAsync (hooks: Training.TrainingHooks) (options: Training.TrainingOptions) (splitSeed: int64) (validationSize: int) (data: Dataset) (model: Model) : Task<Training.TrainingResult> =
    start (fun () -> trainOnSplit hooks options splitSeed validationSize data model)

/// Mean reconstruction, KL and loss per image (`Evaluation.evaluate`).
let evaluate (seed: int64) (model: Model) (split: Split) : Evaluation.Evaluation = invoke (fun () -> Evaluation.evaluate seed model split)

/// The code of each image (`Model.encode`).
let encode (model: Model) (images: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf model.Architecture.Input images |> Model.encode model |> rowsOf)

/// Each image through its code and back (`Model.reconstruct`).
let reconstruct (model: Model) (images: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf model.Architecture.Input images |> Model.reconstruct model |> rowsOf)

/// Images decoded from codes (`Model.decode`).
let decode (model: Model) (codes: float32[][]) : float32[][] =
    invoke (fun () ->
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        tensorOf model.Architecture.Latent codes |> Model.decode model |> rowsOf)

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

/// The training benchmark (`Benchmark.run`); `onEpoch` is called on the engine's thread.
let benchmarkAsync (epochs: int) (onEpoch: int -> float -> unit) (cancellation: Threading.CancellationToken) : Task<Benchmark.BenchReport> =
    start (fun () ->
        cancellation.ThrowIfCancellationRequested()
        Benchmark.run epochs onEpoch)

/// A run's outcomes, and how it trained: models at once and libtorch threads each.
type RunOutcome = { Experiments: ExperimentOutcome list; Lanes: int; ThreadsPerLane: int }

/// `hooks` called one at a time, each call finished before the next starts, from whichever lane
/// trains: a caller's callbacks need not be thread-safe.
let private serialised (hooks: RunHooks) : RunHooks =
    let gate = obj ()
    let one f = lock gate f
    { OnModelStart = fun e m r i n -> one (fun () -> hooks.OnModelStart e m r i n)
      Training =
        fun e m r ->
            let training = one (fun () -> hooks.Training e m r)
            { training with
                OnEpoch = fun epoch -> one (fun () -> training.OnEpoch epoch)
                OnBatch = fun epoch batch batches -> one (fun () -> training.OnBatch epoch batch batches) }
      OnModelDone = fun e outcome -> one (fun () -> hooks.OnModelDone e outcome)
      OnModelDiverged = fun e spec r training -> one (fun () -> hooks.OnModelDiverged e spec r training)
      Cancellation = hooks.Cancellation }

/// Runs `experiments` (`Experiments.run`) on the engine's thread and its lanes. The hooks are
/// called one at a time (never two at once, each finished before the next starts), from the
/// thread of whichever lane reached them. `data` holds the data set of each experiment's source
/// (`loadDataSetsAsync`).
let runAsync (hooks: RunHooks) (settings: RunSettings) (data: Map<DataSource, Dataset>) (experiments: ExperimentDefinition list) : Task<RunOutcome> =
    start (fun () ->
        hooks.Cancellation.ThrowIfCancellationRequested()
        let outcomes = run (serialised hooks) settings data experiments
        let lanes = effectiveLanes settings
        { Experiments = outcomes; Lanes = lanes; ThreadsPerLane = Lanes.threadsPerLane lanes })
