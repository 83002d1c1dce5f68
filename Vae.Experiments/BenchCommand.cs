using System.CommandLine;
using Vae.Facade;

namespace Vae.Experiments;

/// <summary><c>bench [--epochs N] [--json FILE] [--hidden W,…] [--latent Z] [--conv C,…] [--batch-size B] [--compare-naive]</c>:
/// training speed, by default of the seed study's five-layer VAE.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var epochs = new Option<int>("--epochs") { Description = "Epochs to time (the first includes warm-up).", DefaultValueFactory = _ => 3 };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var hidden = new Option<string>("--hidden") { Description = "Hidden widths, comma-separated, input side first.", DefaultValueFactory = _ => "400,200,100" };
        var latent = new Option<int>("--latent") { Description = "Latent size.", DefaultValueFactory = _ => 20 };
        var conv = new Option<string?>("--conv") { Description = "Convolution channels, comma-separated (e.g. 32,64); none by default." };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per step (1 to 60,000).", DefaultValueFactory = _ => 64 };
        var compare = new Option<bool>("--compare-naive") { Description = "Also time a plain TorchSharp loop (nn.Linear, torch.optim.Adam, item() every step), epoch by epoch interleaved with the library's." };
        var command = new Command("bench", "Time training on all 60,000 training images: the seed study's five-layer VAE (batch 64, Adam 1e-3) unless told otherwise.")
            { epochs, json, hidden, latent, conv, batchSize, compare };
        command.SetAction(async (parsed, cancellationToken) =>
        {
            var jsonPath = parsed.GetValue(json);
            if (jsonPath is not null) CheckWritable(jsonPath);
            var model = new ModelSpec(Vae.Reporting.ModelKind.Vae, Widths("--hidden", parsed.GetValue(hidden)!), parsed.GetValue(latent))
            {
                Conv = parsed.GetValue(conv) is { } c ? Widths("--conv", c) : [],
            };
            var options = new BenchOptions(parsed.GetValue(epochs)) { Model = model, BatchSize = parsed.GetValue(batchSize), ComparePlain = parsed.GetValue(compare) };
            var result = await TrainingBenchmark.RunAsync(
                options,
                new Reporter(p => Console.WriteLine($"{p.Loop} epoch {p.Epoch}: {p.Seconds:F2} s")),
                cancellationToken);
            Print(result);
            if (jsonPath is not null) File.WriteAllText(jsonPath, result.ToJson());
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>"400,200,100" as widths; anything else is bad input naming the option.</summary>
    private static int[] Widths(string option, string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out widths[i]))
                throw new Vae.Core.InvalidInputException(option, "", $"'{text}' is not a comma-separated list of whole numbers, e.g. 400,200,100");
        return widths;
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
        static string Seconds(IEnumerable<double> epochs) => string.Join(", ", epochs.Select(s => s.ToString("F2")));
        Console.WriteLine($"{r.Model}, batch {r.BatchSize}: median {r.MedianSecondsPerEpoch:F2} s per epoch ({Seconds(r.EpochSeconds)})");
        Console.WriteLine($"{r.ImagesPerSecond:N0} images/s, {r.Gflops:F1} GFLOP/s of {r.GflopPerEpoch:F0} GFLOP per epoch; the machine's matrix product {r.PeakGflops:F0} GFLOP/s, a floor of {r.FloorSeconds:F2} s per epoch");
        Console.WriteLine($"final training loss {r.FinalTrainingLoss:F2}");
        if (r.PlainMedianSecondsPerEpoch is { } plain)
            Console.WriteLine($"plain TorchSharp loop: median {plain:F2} s per epoch ({Seconds(r.PlainEpochSeconds)}), final training loss {r.PlainFinalTrainingLoss:F2}; library / plain {r.Ratio:F2}");
        Console.WriteLine($"peak resident memory {r.PeakResidentBytes / 1e6:F0} MB, {r.Threads} threads, {r.Machine.Processor} ({r.Machine.Cores} cores)");
    }

    private sealed class Reporter(Action<BenchEpoch> report) : IProgress<BenchEpoch>
    {
        public void Report(BenchEpoch value) => report(value);
    }
}
