using System.CommandLine;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>bench [--epochs N] [--json FILE]</c>: training speed of the five-layer VAE.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var epochs = new Option<int>("--epochs") { Description = "Epochs to time (the first includes warm-up).", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var command = new Command("bench", "Time the seed study's five-layer VAE (batch 64, Adam 1e-3) on all 60,000 training images.") { epochs, json };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var jsonPath = parsed.GetValue(json);
            if (jsonPath is not null) CheckWritable(jsonPath);
            var result = await TrainingBenchmark.RunAsync(
                parsed.GetValue(epochs),
                new Reporter(p => Console.WriteLine($"epoch {p.Epoch}: {p.Seconds:F2} s")),
                cancellationToken);
            Print(result);
            if (jsonPath is not null) File.WriteAllText(jsonPath, result.ToJson());
            return ExitCodes.Success;
        });
        return command;
    }

    private static void CheckWritable(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new Vae.Core.InvalidInputException("--json", "", $"folder {folder} does not exist");
        var probe = Path.Combine(folder, $".bench-probe-{Environment.ProcessId}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Vae.Core.InvalidInputException("--json", "", $"{path} cannot be written: {e.Message}", e);
        }
    }

    private static void Print(BenchResult r)
    {
        Console.WriteLine($"median {r.MedianSecondsPerEpoch:F2} s per epoch ({string.Join(", ", r.EpochSeconds.Select(s => s.ToString("F2")))})");
        Console.WriteLine($"{r.ImagesPerSecond:N0} images/s, {r.Gflops:F1} GFLOP/s, final training loss {r.FinalTrainingLoss:F2}");
        Console.WriteLine($"peak resident memory {r.PeakResidentBytes / 1e6:F0} MB, {r.Threads} threads, {r.Machine.Processor} ({r.Machine.Cores} cores)");
    }

    private sealed class Reporter(Action<(int Epoch, double Seconds)> report) : IProgress<(int Epoch, double Seconds)>
    {
        public void Report((int Epoch, double Seconds) value) => report(value);
    }
}
