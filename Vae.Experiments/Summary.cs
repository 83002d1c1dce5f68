using Vae.Facade;

namespace Vae.Experiments;

/// <summary>What a finished run prints: where the files are, and each experiment's best model.</summary>
internal static class Summary
{
    public static void Print(RunResult result, string folder, TimeSpan elapsed)
    {
        foreach (var e in result.Experiments)
        {
            var best = e.Models.First(m => m.Name == e.Best);
            Console.WriteLine($"{e.Experiment}: best {best.Name} (validation loss {best.Best.ValLoss:F2}, test loss {best.Test.Loss:F2})");
        }
        Console.WriteLine($"wrote {folder} in {elapsed.TotalMinutes:F1} min: {RunLayout.ReportMarkdown}, {RunLayout.ReportHtml}, {RunLayout.Results}");
    }
}
