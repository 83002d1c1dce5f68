/// How fast this machine trains a model (the seed study's five-layer VAE unless told otherwise):
/// median seconds per epoch, what explains it (throughput against the machine's matrix-product
/// rate, threads, memory, processor), and, side by side, a plain TorchSharp loop's.
module Vae.Core.Benchmark

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open TorchSharp

/// The processor that ran a benchmark.
type Machine =
    { /// The processor's model name (from /proc/cpuinfo on Linux).
      Processor: string
      /// Logical cores the process may use.
      Cores: int }

/// Which loop an epoch belongs to: this library's (`Training.trainEpoch`) or the plain one
/// (`PlainLoop`) it is compared with.
type Loop =
    | Library
    | Plain

    override l.ToString() = match l with Library -> "library" | Plain -> "plain"

/// What to time: a model (initialised with seed 1), its batch size, the epochs, and whether to
/// time the plain loop too, interleaved with this library's.
type BenchSetup =
    { Architecture: Architecture
      BatchSize: int
      Epochs: int
      ComparePlain: bool }

module BenchSetup =
    /// The seed study's five-layer VAE (784-400-200-100-20) with batch 64, three epochs.
    let seedStudy = { Architecture = Architecture.fiveLayer; BatchSize = 64; Epochs = 3; ComparePlain = false }

/// What `run` measured.
type BenchReport =
    { /// The model timed, as `Architecture` prints it ("VAE 784-400-200-100-20").
      Model: string
      BatchSize: int
      /// Wall-clock seconds of each training epoch of this library's loop, in order (the first
      /// includes warm-up).
      EpochSeconds: float[]
      /// The median of `EpochSeconds`.
      MedianSecondsPerEpoch: float
      /// Training images per second at the median epoch.
      ImagesPerSecond: float
      /// Floating-point operations of one training epoch: 6 × multiply-adds of a forward pass ×
      /// images (2 per multiply-add forward, 4 backward; `Architecture.forwardCost`).
      GflopPerEpoch: float
      /// Achieved GFLOP/s at the median epoch: `GflopPerEpoch` / `MedianSecondsPerEpoch`.
      Gflops: float
      /// This machine's matrix-product rate with the same threads (a 2048³ float32 product, best
      /// of five), measured before and after training, the higher kept.
      PeakGflops: float
      /// The epoch at `PeakGflops`: `GflopPerEpoch` / `PeakGflops`, a floor no loop goes below.
      FloorSeconds: float
      /// The plain loop's epochs, each timed beside the library epoch of the same number (which one
      /// ran first alternates); empty unless compared.
      PlainEpochSeconds: float[]
      /// Their median (NaN unless compared).
      PlainMedianSecondsPerEpoch: float
      /// The median over epochs of library seconds / plain seconds of the same epoch number, the
      /// first (warm-up) excluded when there are at least three (NaN unless compared).
      Ratio: float
      /// Peak resident memory of the process in bytes (VmHWM of /proc/self/status on Linux).
      PeakResidentBytes: int64
      /// libtorch's intra-op threads (torch.get_num_threads()).
      Threads: int
      /// Mean training loss per image (reconstruction + KL, nats) of the library's last epoch.
      FinalTrainingLoss: float
      /// The plain loop's (NaN unless compared); the two learn alike (`PlainLoop`).
      PlainFinalTrainingLoss: float
      Machine: Machine }

/// The median of a non-empty array (the mean of the two middle values for an even count).
let median (values: float[]) =
    if values.Length = 0 then invalidArg (nameof values) "no values"
    let sorted = Array.sort values
    let middle = sorted.Length / 2
    if sorted.Length % 2 = 1 then sorted.[middle] else (sorted.[middle - 1] + sorted.[middle]) / 2.0

/// The value of `key` in a "key : value" file such as /proc/cpuinfo or /proc/self/status.
let private procField (path: string) (key: string) : string option =
    try
        File.ReadLines path
        |> Seq.tryPick (fun line ->
            match line.Split(':', 2) with
            | [| k; v |] when k.Trim() = key -> Some(v.Trim())
            | _ -> None)
    with :? IOException | :? UnauthorizedAccessException -> None

/// Peak resident memory of this process in bytes: VmHWM on Linux, else the runtime's peak working set.
let peakResidentBytes () : int64 =
    match procField "/proc/self/status" "VmHWM" with
    | Some value ->
        match value.Split(' ', StringSplitOptions.RemoveEmptyEntries) with
        | [| kilobytes; "kB" |] -> int64 kilobytes * 1024L
        | _ -> Process.GetCurrentProcess().PeakWorkingSet64
    | None -> Process.GetCurrentProcess().PeakWorkingSet64

/// This machine's processor model name and logical core count.
let machine () : Machine =
    let processor =
        procField "/proc/cpuinfo" "model name"
        |> Option.defaultValue (Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString())
    { Processor = processor; Cores = Environment.ProcessorCount }

/// GFLOP/s of a 2048³ float32 matrix product on libtorch's current threads, the best of five
/// after one warm-up: the rate a training epoch's matrix products could reach at most.
let matrixProductGflops () : float =
    use _ = torch.NewDisposeScope()
    let n = 2048L
    use generator = new torch.Generator(7UL)
    let a = torch.rand ([| n; n |], generator = generator)
    let b = torch.rand ([| n; n |], generator = generator)
    let c = torch.empty ([| n; n |])
    let time () =
        let clock = Stopwatch.StartNew()
        c.addmm_(a, b, beta = 0.0f, alpha = 1.0f) |> ignore
        clock.Elapsed.TotalSeconds
    time () |> ignore
    let best = Seq.init 5 (fun _ -> time ()) |> Seq.min
    2.0 * float n * float n * float n / best / 1e9

/// The plain training loop this library's is measured against, written as one writes PyTorch's VAE
/// example in TorchSharp: a torch.nn.Linear per layer (holding a copy of `model`'s weights),
/// torch.optim.Adam, a sigmoid and binary_cross_entropy, autograd, and the loss read with `item()`
/// every step. Shuffling and noise come from generators seeded as `Training.train` seeds them, so
/// it learns as the library's loop does (a test holds them within 0.5 % over three epochs). For
/// multilayer perceptrons.
type PlainLoop(model: Model, options: Training.TrainingOptions) =
    let copyOf (layer: Layers.Linear) =
        let module' = torch.nn.Linear(layer.Weight.shape.[1], layer.Weight.shape.[0])
        use _ = torch.no_grad ()
        module'.weight.copy_(layer.Weight) |> ignore
        module'.bias.copy_(layer.Bias) |> ignore
        module'
    do if not model.Architecture.IsMlp then invalidArg (nameof model) $"the plain loop is for multilayer perceptrons, not {model.Architecture}"
    let encoderLayers = Model.denseLayers model.Encoder |> List.map copyOf
    let decoderLayers = Model.denseLayers model.Decoder |> List.map copyOf
    let encoder, head = List.take (encoderLayers.Length - 1) encoderLayers, List.last encoderLayers
    let decoder, output = List.take (decoderLayers.Length - 1) decoderLayers, List.last decoderLayers
    let modules = encoderLayers @ decoderLayers
    let latent = int64 model.Architecture.Latent
    let optimizer = torch.optim.Adam(modules |> Seq.collect (fun m -> m.parameters ()), lr = options.LearningRate)
    let shuffle = new torch.Generator(uint64 options.Seed)
    let noise = new torch.Generator(uint64 options.Seed + 1UL)

    /// One epoch over `train`; the mean training loss per image (reconstruction + KL).
    member _.Epoch(train: Data.Split) : float =
        use order = torch.randperm (int64 train.Count, generator = shuffle)
        let n = train.Count
        let mutable total = 0.0
        for start in 0 .. options.BatchSize .. n - 1 do
            use _ = torch.NewDisposeScope()
            let x = train.Images.index_select(0L, order.narrow(0L, int64 start, int64 (min options.BatchSize (n - start))))
            let h = encoder |> List.fold (fun h layer -> torch.nn.functional.relu (layer.forward h)) x
            let parameters = head.forward h
            let mu = parameters.narrow(1L, 0L, latent)
            let logVariance = parameters.narrow(1L, latent, latent)
            let epsilon = torch.randn (mu.shape, generator = noise)
            let z = mu + (logVariance * 0.5).exp() * epsilon
            let recon = (output.forward (decoder |> List.fold (fun h layer -> torch.nn.functional.relu (layer.forward h)) z)).sigmoid()
            let bce = torch.nn.functional.binary_cross_entropy (recon, x, reduction = torch.nn.Reduction.Sum)
            let kl = (logVariance + 1.0 - mu.pow(2.0.ToScalar()) - logVariance.exp()).sum() * -0.5
            let loss = bce + kl
            optimizer.zero_grad ()
            loss.backward ()
            optimizer.step () |> ignore
            total <- total + float (loss.item<float32> ())
        total / float n

    interface IDisposable with
        member _.Dispose() =
            optimizer.Dispose()
            modules |> List.iter (fun m -> m.Dispose())
            shuffle.Dispose()
            noise.Dispose()

/// Trains `setup`'s model (model seed 1, Adam 1e-3, TrainingOptions.defaults' seed) on all 60,000
/// Fashion-MNIST training images for `setup.Epochs` epochs, without validation, and reports the
/// time of each epoch. Each timed epoch is one `Training.trainEpoch`: the shuffle, every optimizer
/// step and reading the epoch's loss; loading the data and creating the model are not timed. With
/// `ComparePlain` the plain loop (`PlainLoop`, from the same initial weights) trains too, its epoch
/// e timed right after or right before the library's epoch e (alternating which goes first, so
/// that neither always follows the other), so that both see the machine in the same state. The
/// first epoch includes warm-up: ask for at least 3. `onEpoch` receives (loop, epoch, seconds)
/// after each epoch. libtorch's current thread count is used (see `Engine.setThreads`).
let run (setup: BenchSetup) (onEpoch: Loop -> int -> float -> unit) : BenchReport =
    Engine.ensureLoaded ()
    if setup.Epochs < 1 then invalidArg (nameof setup) $"epochs: must be at least 1, was {setup.Epochs}"
    if setup.BatchSize < 1 then invalidArg (nameof setup) $"batch size: must be at least 1, was {setup.BatchSize}"
    if setup.ComparePlain && not setup.Architecture.IsMlp then
        invalidArg (nameof setup) $"the plain loop is for multilayer perceptrons, not {setup.Architecture}"
    let before = matrixProductGflops ()
    let data = FashionMnist.load None
    try
        let options = { Training.TrainingOptions.defaults with BatchSize = setup.BatchSize }
        let model = Model.create 1L setup.Architecture
        let plain = if setup.ComparePlain then Some(new PlainLoop(model, options)) else None
        use _ = plain |> Option.map (fun p -> p :> IDisposable) |> Option.toObj
        use shuffle = new torch.Generator(uint64 options.Seed)
        use noise = new torch.Generator(uint64 options.Seed + 1UL)
        let mutable adam = Adam.create options.LearningRate model.Parameters
        let timed loop epoch (work: unit -> float) =
            let clock = Stopwatch.StartNew()
            let loss = work ()
            let elapsed = clock.Elapsed.TotalSeconds
            onEpoch loop epoch elapsed
            elapsed, loss
        let library epoch () =
            let next, reconstruction, kl = Training.trainEpoch Training.TrainingHooks.none epoch options shuffle noise adam model (Data.All data.Train)
            adam <- next
            reconstruction + kl
        let epochs =
            [ for epoch in 1 .. setup.Epochs ->
                  match plain with
                  | None -> timed Library epoch (library epoch), (nan, nan)
                  | Some plain when epoch % 2 = 1 ->
                      let ours = timed Library epoch (library epoch)
                      ours, timed Plain epoch (fun () -> plain.Epoch data.Train)
                  | Some plain ->
                      let theirs = timed Plain epoch (fun () -> plain.Epoch data.Train)
                      timed Library epoch (library epoch), theirs ]
        adam.FirstMoment.Dispose()
        adam.SecondMoment.Dispose()
        Model.dispose model
        let seconds = epochs |> List.map (fst >> fst) |> Array.ofList
        let plainSeconds = if setup.ComparePlain then epochs |> List.map (snd >> fst) |> Array.ofList else [||]
        let middle = median seconds
        let images = float data.Train.Count
        let gflop = 6.0 * float (Architecture.forwardCost setup.Architecture) * images / 1e9
        // Timed before and after training, the faster kept: a busy or slow spell of the machine at
        // one of the two moments does not lower the floor's rate.
        let peak = max before (matrixProductGflops ())
        let ratio =
            if plainSeconds.Length = 0 then nan
            else
                let ratios = Array.map2 (/) seconds plainSeconds
                median (if ratios.Length >= 3 then Array.tail ratios else ratios)
        { Model = string setup.Architecture
          BatchSize = setup.BatchSize
          EpochSeconds = seconds
          MedianSecondsPerEpoch = middle
          ImagesPerSecond = images / middle
          GflopPerEpoch = gflop
          Gflops = gflop / middle
          PeakGflops = peak
          FloorSeconds = gflop / peak
          PlainEpochSeconds = plainSeconds
          PlainMedianSecondsPerEpoch = if plainSeconds.Length = 0 then nan else median plainSeconds
          Ratio = ratio
          PeakResidentBytes = peakResidentBytes ()
          Threads = torch.get_num_threads ()
          FinalTrainingLoss = epochs |> List.last |> fst |> snd
          PlainFinalTrainingLoss = epochs |> List.last |> snd |> snd
          Machine = machine () }
    finally
        for split in [ data.Train; data.Test ] do
            split.Images.Dispose()
            split.Labels.Dispose()

// Named floating-point literals: a diverged loss (NaN) is still reported rather than thrown on.
let private jsonOptions =
    JsonSerializerOptions(
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals)

/// The report as indented JSON with camelCase names (model, batchSize, epochSeconds, …, machine
/// { processor, cores }); NaN where the plain loop was not run.
let toJson (report: BenchReport) : string = JsonSerializer.Serialize(report, jsonOptions)
