using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.FSharp.Core;
using Vae.Reporting;

namespace Vae.Facade;

/// <summary>The machine a benchmark ran on.</summary>
/// <param name="Processor">The processor's model name.</param>
/// <param name="Cores">Logical cores.</param>
public sealed record BenchMachine(string Processor, int Cores);

/// <summary>What to time.</summary>
/// <param name="Epochs">Epochs to time, at least 1 (3 or more for a meaningful median: the first includes warm-up).</param>
public sealed record BenchOptions(int Epochs = 3)
{
    /// <summary>The model (initialised with seed 1); the seed study's five-layer VAE by default.</summary>
    public ModelSpec Model { get; init; } = ModelSpec.FiveLayer;

    /// <summary>Images per step (1 to 60,000); 64 by default.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Also time a plain TorchSharp loop (nn.Linear, torch.optim.Adam, autograd, <c>item()</c> every step)
    /// from the same weights, its epochs interleaved with the library's; multilayer perceptrons only.</summary>
    public bool ComparePlain { get; init; }
}

/// <summary>One timed epoch.</summary>
/// <param name="Loop">"library" (this library's training loop) or "plain" (the plain TorchSharp loop).</param>
/// <param name="Epoch">1-based.</param>
/// <param name="Seconds">Wall-clock seconds.</param>
public sealed record BenchEpoch(string Loop, int Epoch, double Seconds);

/// <summary>Training speed of a model on all 60,000 training images.</summary>
/// <param name="Model">The model timed, e.g. "VAE 784-400-200-100-20".</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="EpochSeconds">Seconds of each epoch of the library's loop; the first includes warm-up.</param>
/// <param name="MedianSecondsPerEpoch">Their median.</param>
/// <param name="ImagesPerSecond">60,000 / median.</param>
/// <param name="GflopPerEpoch">Floating-point operations of an epoch, 6 × multiply-adds of a forward pass × images.</param>
/// <param name="Gflops">Achieved GFLOP/s at the median epoch.</param>
/// <param name="PeakGflops">The machine's rate on a 2048³ float32 matrix product with the same threads.</param>
/// <param name="FloorSeconds">An epoch at that rate: <c>GflopPerEpoch / PeakGflops</c>.</param>
/// <param name="PlainEpochSeconds">The plain loop's epochs (empty unless compared).</param>
/// <param name="PlainMedianSecondsPerEpoch">Their median (null unless compared).</param>
/// <param name="Ratio">Median over epochs (the first excluded from 3 on) of library / plain seconds (null unless compared).</param>
/// <param name="PeakResidentBytes">Peak resident memory of the process (VmHWM).</param>
/// <param name="Threads">libtorch's thread count.</param>
/// <param name="FinalTrainingLoss">Mean training loss per image of the library's last epoch.</param>
/// <param name="PlainFinalTrainingLoss">The plain loop's (null unless compared).</param>
/// <param name="Machine">Processor and cores.</param>
public sealed record BenchResult(
    string Model, int BatchSize,
    IReadOnlyList<double> EpochSeconds, double MedianSecondsPerEpoch, double ImagesPerSecond, double GflopPerEpoch, double Gflops,
    double PeakGflops, double FloorSeconds,
    IReadOnlyList<double> PlainEpochSeconds, double? PlainMedianSecondsPerEpoch, double? Ratio,
    long PeakResidentBytes, int Threads, double FinalTrainingLoss, double? PlainFinalTrainingLoss, BenchMachine Machine)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The result as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>Measures training speed on the real 60,000 training images, epoch by epoch, without
/// validation: the seed study's five-layer VAE (batch 64, Adam 1e-3) unless told otherwise, and
/// optionally a plain TorchSharp loop beside it.</summary>
public static class TrainingBenchmark
{
    /// <summary>Trains as <paramref name="options"/> say (the defaults when null) and reports each timed epoch.</summary>
    /// <exception cref="Core.InvalidInputException">Fewer than one epoch, a batch size out of range, an invalid
    /// model, the plain loop asked of a convolutional model, or data that cannot be loaded.</exception>
    public static Task<BenchResult> RunAsync(BenchOptions? options = null, IProgress<BenchEpoch>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new BenchOptions();
        if (options.Epochs < 1) throw new Core.InvalidInputException("--epochs", "", $"must be at least 1, was {options.Epochs}");
        if (options.BatchSize is < 1 or > 60_000) throw new Core.InvalidInputException("--batch-size", "", $"must be between 1 and 60,000, was {options.BatchSize}");
        var architecture = options.Model.ToArchitecture();
        if (options.ComparePlain && !architecture.IsMlp)
            throw new Core.InvalidInputException("--compare-naive", "", $"the plain loop is written for multilayer perceptrons, not {architecture}");
        var setup = new Core.Benchmark.BenchSetup(architecture, options.BatchSize, options.Epochs, options.ComparePlain);
        return Run();

        async Task<BenchResult> Run()
        {
            var r = await Core.OnEngine.benchmarkAsync(setup,
                FuncConvert.FromAction<Core.Benchmark.Loop, int, double>((l, e, s) => progress?.Report(new BenchEpoch(l.ToString(), e, s))), cancellationToken);
            static double? Known(double x) => double.IsNaN(x) ? null : x;
            return new BenchResult(r.Model, r.BatchSize, r.EpochSeconds, r.MedianSecondsPerEpoch, r.ImagesPerSecond, r.GflopPerEpoch, r.Gflops,
                r.PeakGflops, r.FloorSeconds, r.PlainEpochSeconds, Known(r.PlainMedianSecondsPerEpoch), Known(r.Ratio),
                r.PeakResidentBytes, r.Threads, r.FinalTrainingLoss, Known(r.PlainFinalTrainingLoss), new BenchMachine(r.Machine.Processor, r.Machine.Cores));
        }
    }
}
