using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.FSharp.Core;
using Vae.Reporting;

namespace Vae.Facade;

/// <summary>The machine a benchmark ran on.</summary>
/// <param name="Processor">The processor's model name.</param>
/// <param name="Cores">Logical cores.</param>
public sealed record BenchMachine(string Processor, int Cores);

/// <summary>Training speed of the seed study's five-layer VAE on all 60,000 training images.</summary>
/// <param name="EpochSeconds">Seconds of each epoch; the first includes warm-up.</param>
/// <param name="MedianSecondsPerEpoch">Their median.</param>
/// <param name="ImagesPerSecond">60,000 / median.</param>
/// <param name="Gflops">Achieved GFLOP/s, counting forward + backward as 6 × parameters × images.</param>
/// <param name="PeakResidentBytes">Peak resident memory of the process (VmHWM).</param>
/// <param name="Threads">libtorch's thread count.</param>
/// <param name="FinalTrainingLoss">Mean training loss per image of the last epoch.</param>
/// <param name="Machine">Processor and cores.</param>
public sealed record BenchResult(
    IReadOnlyList<double> EpochSeconds, double MedianSecondsPerEpoch, double ImagesPerSecond, double Gflops,
    long PeakResidentBytes, int Threads, double FinalTrainingLoss, BenchMachine Machine)
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

/// <summary>Measures training speed: the five-layer VAE (784-400-200-100-20, batch 64, Adam 1e-3) on
/// the real 60,000 training images, epoch by epoch, without validation.</summary>
public static class TrainingBenchmark
{
    /// <summary>Trains for <paramref name="epochs"/> epochs (at least 3 for a meaningful median) and
    /// reports (epoch, seconds) after each.</summary>
    /// <exception cref="Core.InvalidInputException">Fewer than one epoch, or the data cannot be loaded.</exception>
    public static Task<BenchResult> RunAsync(int epochs = 3, IProgress<(int Epoch, double Seconds)>? progress = null, CancellationToken cancellationToken = default)
    {
        if (epochs < 1) throw new Core.InvalidInputException("--epochs", "", $"must be at least 1, was {epochs}");
        return Run();

        async Task<BenchResult> Run()
        {
            var r = await Core.OnEngine.benchmarkAsync(epochs, FuncConvert.FromAction<int, double>((e, s) => progress?.Report((e, s))), cancellationToken);
            return new BenchResult(r.EpochSeconds, r.MedianSecondsPerEpoch, r.ImagesPerSecond, r.Gflops, r.PeakResidentBytes, r.Threads,
                r.FinalTrainingLoss, new BenchMachine(r.Machine.Processor, r.Machine.Cores));
        }
    }
}
