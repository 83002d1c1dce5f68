using Vae.Facade;
using Vae.Reporting;

namespace Vae.Experiments;

/// <summary>What a finished run prints: where the files are, each experiment's best model, where the time went
/// (<see cref="JobTimes"/>), and on stderr a warning for each model that diverged.</summary>
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
            Console.WriteLine(best is null ? $"{e.Experiment}: every model diverged" : $"{e.Experiment}: best {best.Name} ({Numbers(best)})");
        }
        Console.WriteLine($"wrote {folder} in {elapsed.TotalMinutes:F1} min: {RunLayout.ReportMarkdown}, {RunLayout.ReportHtml}, {RunLayout.Results}, {RunLayout.EpochsCsv}, {RunLayout.MetricsCsv}, {RunLayout.TensorBoard}/");
        var times = JobTimes.Of(result).Describe();
        if (times.Length > 0) Console.WriteLine($"time in jobs, summed over the lanes: {times}");
    }

    /// <summary>The numbers the best model was chosen on: "validation loss 241.47, test loss 240.80" for one repeat;
    /// with several, the means (the best model is the one with the lowest mean validation loss) and how many.</summary>
    private static string Numbers(ModelResult best)
    {
        double Mean(string key, double first) => best.Summary.TryGetValue(key, out var s) ? s.Mean : first;
        var validation = Mean(Vae.Core.Metrics.validationLoss.Key, best.Best.ValLoss);
        var test = Mean(Vae.Core.Metrics.testLoss.Key, best.Test.Loss);
        var repeats = best.Repeats.Count;
        return $"validation loss {validation:F2}, test loss {test:F2}" + (repeats > 1 ? $", mean of {repeats} repeats" : "");
    }

    /// <summary>True when no model of the run trained without diverging.</summary>
    public static bool AllDiverged(RunResult result) => result.Experiments.All(e => e.Models.Count == 0);
}
