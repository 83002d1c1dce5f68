using Vae.Facade;
using Vae.Reporting;

namespace Vae.Experiments;

/// <summary>What a finished run prints: where the files are, each experiment's best model, and on stderr a warning
/// for each model that diverged.</summary>
internal static class Summary
{
    public static void Print(RunResult result, string folder, TimeSpan elapsed)
    {
        foreach (var e in result.Experiments)
        {
            foreach (var d in e.Diverged)
            foreach (var r in d.Repeats.Where(r => r.DivergedAtEpoch is not null))
                Console.Error.WriteLine($"warning: {e.Experiment}/{d.Name} repeat {r.Repeat + 1} diverged in epoch {r.DivergedAtEpoch} (a NaN or infinite loss): not measured, never best");
            var best = e.Models.FirstOrDefault(m => m.Name == e.Best);
            Console.WriteLine(best is null
                ? $"{e.Experiment}: every model diverged"
                : $"{e.Experiment}: best {best.Name} (validation loss {best.Best.ValLoss:F2}, test loss {best.Test.Loss:F2})");
        }
        Console.WriteLine($"wrote {folder} in {elapsed.TotalMinutes:F1} min: {RunLayout.ReportMarkdown}, {RunLayout.ReportHtml}, {RunLayout.Results}");
    }

    /// <summary>True when no model of the run trained without diverging.</summary>
    public static bool AllDiverged(RunResult result) => result.Experiments.All(e => e.Models.Count == 0);
}
