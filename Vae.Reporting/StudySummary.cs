using System.Globalization;

namespace Vae.Reporting;

/// <summary>The answer of each experiment in two or three sentences, for the top of the report: which model is best by
/// the run's criterion and whether its lead is real, who leads on reconstruction, likelihood and generation, and what
/// qualifies it (collapse, under-training). Every clause is read from the verdicts and the findings.</summary>
internal static class StudySummary
{
    /// <summary>One item per experiment that trained a model.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> Items(RunResult run) =>
        run.Experiments.Where(e => e.Models.Count > 0).Select(Item).ToList();

    private static IReadOnlyList<Span> Item(ExperimentResult experiment)
    {
        var spans = new List<Span> { new(experiment.Experiment, Strong: true), ": " };
        var best = experiment.Models.FirstOrDefault(m => m.Name == experiment.Best);
        var selection = experiment.Verdicts.FirstOrDefault(v => v.Metric == Core.Metrics.validationLoss.Key);
        if (best is not null)
        {
            spans.Add(new Span(best.Name, Strong: true));
            spans.Add($" ({ModelText.Architecture(best)}) has the lowest validation loss, "
                      + $"{Numbers.MeanSd(RepeatSummaries.Of(best, Core.Metrics.validationLoss), Numbers.Nats)} nats per image");
            if (selection is { RunnerUp: not null } && selection.Best == best.Name)
                spans.Add(selection.Clear
                    ? $"; its lead over {selection.RunnerUp} is real ({P(selection)})."
                    : selection.P is null
                        ? $"; its lead over {selection.RunnerUp} is not judged (one repeat)."
                        : $"; its lead over {selection.RunnerUp} is inconclusive ({P(selection)}).");
            else spans.Add(".");
            if (Findings.MixesKinds(experiment))
                spans.Add(" (Across kinds the validation loss does not compare like with like: see the reconstruction.)");
        }
        var leaders = new[] { Core.Metrics.testReconstruction, Core.Metrics.iwaeNll, Core.Metrics.generationDistance }
            .Select(metric => experiment.Verdicts.FirstOrDefault(v => v.Metric == metric.Key && v.RunnerUp is not null))
            .Where(v => v is not null)
            .Select(v => $"{Measure.For(v!.Metric).ShortName}: {v.Best}{(v.Clear ? "" : v.P is null ? " (not judged)" : " (inconclusive)")}")
            .ToList();
        if (leaders.Count > 0) spans.Add(" Best on " + string.Join("; ", leaders) + ".");
        var collapsed = experiment.Models
            .Where(Findings.Collapsed)
            .Select(m => $"{m.Name} ({Numbers.Fixed(RepeatSummaries.Of(m, Core.Metrics.activeUnits).Mean, 1)} of {m.Latent} active units)")
            .ToList();
        if (collapsed.Count > 0)
            spans.Add($" Posterior collapse: {string.Join(", ", collapsed)}.");
        var under = Findings.UnderTrained(experiment);
        if (under.Count > 0)
            spans.Add($" Under-trained: {under.Sum(u => u.AtCap)} of {experiment.Models.Sum(m => m.Repeats.Count)} trainings were still improving at the {experiment.MaxEpochs}-epoch cap.");
        return spans;
    }

    private static string P(MetricVerdict verdict) =>
        verdict.P is { } p ? $"Welch's t-test, {VerdictSentences.PValue(p)}" : "no spread to test against";
}
