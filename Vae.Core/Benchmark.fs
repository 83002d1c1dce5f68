/// How fast this machine trains the seed study's five-layer VAE: the figure issue 4 targets
/// (median seconds per epoch) and what explains it (throughput, threads, memory, processor).
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

/// What `run` measured.
type BenchReport =
    { /// Wall-clock seconds of each training epoch, in order (the first includes warm-up).
      EpochSeconds: float[]
      /// The median of `EpochSeconds`.
      MedianSecondsPerEpoch: float
      /// Training images per second at the median epoch.
      ImagesPerSecond: float
      /// Achieved GFLOP/s at the median epoch, counting forward and backward passes as
      /// 6 × parameters × images (2 for the forward pass, 4 for the backward pass).
      Gflops: float
      /// Peak resident memory of the process in bytes (VmHWM of /proc/self/status on Linux).
      PeakResidentBytes: int64
      /// libtorch's intra-op threads (torch.get_num_threads()).
      Threads: int
      /// Mean training loss per image (reconstruction + KL, nats) of the last epoch.
      FinalTrainingLoss: float
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

/// Trains the seed study's five-layer VAE (Architecture.fiveLayer: 784-400-200-100-20, batch 64,
/// Adam 1e-3, model seed 1, TrainingOptions.defaults' seed) on all 60,000 Fashion-MNIST training
/// images for `epochs` epochs, without validation, and reports the time of each epoch. Each
/// timed epoch is one `Training.trainEpoch`: the shuffle, every optimizer step and reading the
/// epoch's loss; loading the data and creating the model are not timed. The first epoch includes
/// warm-up, so ask for at least 3 epochs for a meaningful median. `onEpoch` receives (epoch,
/// seconds) after each epoch. libtorch's current thread count is used (see `Engine.setThreads`).
let run (epochs: int) (onEpoch: int -> float -> unit) : BenchReport =
    if epochs < 1 then invalidArg (nameof epochs) $"must be at least 1, was {epochs}"
    let data = FashionMnist.load None
    try
        let options = Training.TrainingOptions.defaults
        let model = Model.create 1L Architecture.fiveLayer
        use shuffle = new torch.Generator(uint64 options.Seed)
        use noise = new torch.Generator(uint64 options.Seed + 1UL)
        let adam = Adam.create options.LearningRate model.Parameters
        let seconds, loss, adam =
            Seq.init epochs ((+) 1)
            |> Seq.fold
                (fun (seconds, _, adam) epoch ->
                    let clock = Stopwatch.StartNew()
                    let adam, reconstruction, kl =
                        Training.trainEpoch Training.TrainingHooks.none epoch options shuffle noise adam model (Data.All data.Train)
                    let elapsed = clock.Elapsed.TotalSeconds
                    onEpoch epoch elapsed
                    (elapsed :: seconds, reconstruction + kl, adam))
                ([], nan, adam)
        adam.FirstMoment.Dispose()
        adam.SecondMoment.Dispose()
        model.Parameters.Tensors @ model.Parameters.GradientViews |> List.iter (fun t -> t.Dispose())
        model.Parameters.Values.Dispose()
        model.Parameters.Gradients.Dispose()
        let seconds = seconds |> List.rev |> Array.ofList
        let middle = median seconds
        let images = float data.Train.Count
        { EpochSeconds = seconds
          MedianSecondsPerEpoch = middle
          ImagesPerSecond = images / middle
          Gflops = 6.0 * float (Architecture.parameterCount Architecture.fiveLayer) * images / middle / 1e9
          PeakResidentBytes = peakResidentBytes ()
          Threads = torch.get_num_threads ()
          FinalTrainingLoss = loss
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

/// The report as indented JSON with camelCase names: epochSeconds, medianSecondsPerEpoch,
/// imagesPerSecond, gflops, peakResidentBytes, threads, finalTrainingLoss, machine { processor, cores }.
let toJson (report: BenchReport) : string = JsonSerializer.Serialize(report, jsonOptions)
