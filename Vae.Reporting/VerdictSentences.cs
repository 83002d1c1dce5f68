namespace Vae.Reporting;

/// <summary>The verdict of an experiment in words, from the façade's <see cref="ExperimentResult.Verdicts"/>: one
/// sentence per judged metric, a summary by aspect (reconstruction, likelihood, latent usage, feature quality,
/// generation), and each code against its PCA yardstick. A model is called best only when Welch's two-sample t-test
/// of its repeats against the runner-up's rejects equal means at the 5 % level; with one repeat nothing is called
/// best, since the spread between seeds is then unknown.</summary>
internal static class VerdictSentences
{
    /// <summary>How a verdict came out.</summary>
    private enum Outcome
    {
        /// <summary>Welch's t-test rejects equal means (p &lt; 0.05).</summary>
        Real,

        /// <summary>The test does not reject: inconclusive.</summary>
        WithinNoise,

        /// <summary>One repeat: the noise is unknown.</summary>
        NotJudged,

        /// <summary>The two means are equal.</summary>
        Level,

        /// <summary>Only one model has the metric.</summary>
        Alone,
    }

    /// <summary>One sentence per verdict, in the façade's order: "On test reconstruction (lower is better),
    /// h400-z70 is best (231.2 ± 0.4 vs 233.0 ± 0.6 for h250-z80): the lead of 1.8 is beyond the noise
    /// (0.4 + 0.6)."</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> Sentences(ExperimentResult experiment) =>
        experiment.Verdicts.Select(v => Sentence(experiment, v)).ToList();

    private static IReadOnlyList<Span> Sentence(ExperimentResult experiment, MetricVerdict verdict)
    {
        var measure = Measure.For(verdict.Metric);
        var direction = verdict.LowerIsBetter ? "lower is better" : "higher is better";
        // "test loss (negative ELBO)" becomes "test loss (negative ELBO; lower is better)".
        var label = verdict.Label.EndsWith(')') ? $"{verdict.Label[..^1]}; {direction})" : $"{verdict.Label} ({direction})";
        var spans = new List<Span> { $"On {label}, " };
        if (verdict.RunnerUp is null || verdict.RunnerUpSummary is null)
        {
            var d = Decimals(measure, verdict.BestSummary, verdict.BestSummary);
            spans.AddRange(["only ", Strong(verdict.Best), $" is measured ({measure.Summary(verdict.BestSummary, d)})"]);
            if (measure.VaesOnly && experiment.Models.Any(m => !m.Kind.HasPosterior()))
                spans.Add(verdict.Metric == Core.Metrics.activeUnits.Key
                    ? ": an autoencoder's code is not held to N(0, I), so its variance against the same threshold is not comparable"
                    : ": an autoencoder has no KL term, hence no ELBO and no likelihood estimate");
            spans.Add(".");
            return spans;
        }

        var (best, other) = (verdict.BestSummary, verdict.RunnerUpSummary);
        var decimals = Decimals(measure, best, other);
        var values = $"{measure.Summary(best, decimals)} vs {measure.Summary(other, decimals)} for ";
        var lead = measure.Difference(verdict.Margin, decimals);
        var test = Test(verdict, measure, decimals);
        switch (OutcomeOf(verdict))
        {
            case Outcome.Level:
                spans.AddRange([Strong(verdict.Best), " and ", Strong(verdict.RunnerUp),
                    $" are level ({measure.Summary(best, decimals)} and {measure.Summary(other, decimals)})."]);
                break;
            case Outcome.NotJudged:
                spans.AddRange([Strong(verdict.Best), $" is ahead ({values}", Strong(verdict.RunnerUp),
                    $"), a lead of {lead}; with one repeat the spread between seeds is not measured, so no model is declared best."]);
                break;
            case Outcome.Real:
                spans.AddRange([Strong(verdict.Best), $" is best ({values}", Strong(verdict.RunnerUp),
                    $"): the lead of {lead} is real ({test})."]);
                break;
            default:
                spans.AddRange([Strong(verdict.Best), $" is ahead ({values}", Strong(verdict.RunnerUp),
                    $"), but the lead of {lead} is inconclusive ({test}): no model is declared best."]);
                break;
        }
        var kinds = experiment.Models.Where(m => m.Name == verdict.Best || m.Name == verdict.RunnerUp).Select(m => m.Kind).Distinct().Count();
        if (verdict.Metric == Core.Metrics.validationLoss.Key && kinds > 1)
            spans.Add(" Across kinds this compares a VAE's reconstruction + KL with an autoencoder's reconstruction alone.");
        return spans;
    }

    /// <summary>"Welch's t-test, p = 0.003; 95 % CI of the lead 1.9 to 3.9", or why there is no test.</summary>
    private static string Test(MetricVerdict verdict, Measure measure, int decimals)
    {
        // Results read back from an older results.json have no test: work it out from the summaries.
        if (verdict.P is null && verdict.RunnerUpSummary is not null) verdict = verdict.WithTest();
        if (verdict.P is not { } p || verdict.LeadLow is not { } low || verdict.LeadHigh is not { } high)
            return "no spread between repeats to test against";
        return $"Welch's t-test, {PValue(p)}; 95 % CI of the lead {measure.Signed(low, decimals)} to {measure.Signed(high, decimals)}";
    }

    /// <summary>"p = 0.031", "p = 0.0042", "p &lt; 0.0001".</summary>
    internal static string PValue(double p) =>
        p < 0.0001 ? "p < 0.0001" : $"p = {p.ToString(p < 0.01 ? "0.0000" : "0.000", System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>The verdicts grouped by aspect, one item each: "Likelihood: five-layer is better on the IWAE NLL
    /// and the negative ELBO (real differences)."</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> Summary(ExperimentResult experiment)
    {
        var items = new List<IReadOnlyList<Span>>();
        foreach (var aspect in experiment.Verdicts.Select(v => Measure.For(v.Metric).Aspect).Distinct().OrderBy(a => a))
        {
            var verdicts = experiment.Verdicts.Where(v => Measure.For(v.Metric).Aspect == aspect).ToList();
            var spans = new List<Span> { Strong(Measure.Name(aspect)), ": " };
            // Consecutive verdicts with the same leader and outcome share one clause.
            var clauses = new List<(MetricVerdict First, Outcome Outcome, List<string> Names)>();
            foreach (var v in verdicts)
            {
                var outcome = OutcomeOf(v);
                var name = Measure.For(v.Metric).ShortName;
                if (clauses.Count > 0 && clauses[^1].First.Best == v.Best && clauses[^1].Outcome == outcome
                    && clauses[^1].First.RunnerUp == v.RunnerUp)
                    clauses[^1].Names.Add(name);
                else
                    clauses.Add((v, outcome, [name]));
            }
            for (var i = 0; i < clauses.Count; i++)
            {
                if (i > 0) spans.Add("; ");
                spans.AddRange(Clause(clauses[i].First, clauses[i].Outcome, clauses[i].Names));
            }
            spans.Add(".");
            if (aspect == Aspect.Selection && Findings.MixesKinds(experiment))
                spans.Add(" Across kinds the validation loss does not compare like with like.");
            items.Add(spans);
        }
        return items;
    }

    /// <summary>How many of the verdicts are real differences, and which: "2 of 9 differences are beyond the noise:
    /// ...", or why none can be.</summary>
    public static IReadOnlyList<Span> Tally(ExperimentResult experiment)
    {
        var compared = experiment.Verdicts.Where(v => v.RunnerUp is not null).ToList();
        if (compared.Count == 0)
            return ["No metric has two models to compare."];
        if (compared.All(v => OutcomeOf(v) == Outcome.NotJudged))
            return [$"Each model was trained once, so the spread between seeds is unknown and none of the {compared.Count} differences is judged; more repeats would tell which are real."];
        var real = compared.Where(v => OutcomeOf(v) == Outcome.Real).ToList();
        var spans = new List<Span> { $"{real.Count} of the {compared.Count} differences between models are real (Welch's t-test, p < 0.05)" };
        if (real.Count > 0)
        {
            spans.Add(": ");
            spans.Add(string.Join(", ", real.Select(v => $"{Measure.For(v.Metric).ShortName} ({v.Best})")));
        }
        var rest = compared.Count - real.Count;
        spans.Add(rest == 0 ? "." : rest == 1 ? "; the other is inconclusive." : "; the others are inconclusive.");
        return spans;
    }

    /// <summary>One item per model: its code against the PCA yardstick of as many dimensions, on both probes.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> AgainstPca(ExperimentResult experiment) =>
        experiment.Models.Select(model =>
        {
            var spans = new List<Span> { Strong(model.Name), $" ({model.Latent} dimensions): " };
            var linear = Probe(model, Core.Metrics.linearAccuracy, r => r.Probe.PcaLinearAccuracy, "linear probe");
            var knn = Probe(model, Core.Metrics.knnAccuracy, r => r.Probe.PcaKnnAccuracy, "5-NN");
            spans.Add(linear.Text);
            spans.Add("; ");
            spans.Add(knn.Text);
            spans.Add(". ");
            var beats = new[] { linear, knn }.Count(p => p.Beats);
            spans.Add(beats switch
            {
                2 => "Its code beats PCA on both probes.",
                1 => $"Its code beats PCA on the {(linear.Beats ? "linear probe" : "5-NN probe")} only.",
                _ => RepeatSummaries.Repeated(model)
                    ? "Its code does not beat PCA on either probe: as features, it has learned little that a linear projection of the pixels does not give."
                    : "With one repeat, neither lead over PCA is judged.",
            });
            return (IReadOnlyList<Span>)spans;
        }).ToList();

    /// <summary>"linear probe 81.2 ± 0.4 % vs 79.5 % for PCA, ahead beyond the noise"; beats: ahead by more than
    /// the two standard deviations combined.</summary>
    private static (string Text, bool Beats) Probe(
        ModelResult model, Core.Metrics.Metric metric, Func<RepeatResult, double> pca, string name)
    {
        var measure = Measure.For(metric.Key);
        var ours = RepeatSummaries.Of(model, metric);
        var yardstick = RepeatSummaries.Of(model, pca);
        var decimals = Decimals(measure, ours, yardstick);
        var pcaText = RepeatSummaries.Constant(model, pca) ? measure.Value(yardstick.Mean, decimals) : measure.Summary(yardstick, decimals);
        var text = $"{name} {measure.Summary(ours, decimals)} vs {pcaText} for PCA";
        var difference = ours.Mean - yardstick.Mean;
        var gap = measure.Difference(Math.Abs(difference), decimals);
        if (!Numbers.Finite(difference)) return (text + ", not comparable", false);
        if (ours.Count < 2)
            return (text + (difference > 0 ? $", ahead by {gap} (one repeat: not judged)" : difference < 0 ? $", behind by {gap}" : ", level"), false);
        var real = Core.Statistics.leadIsReal(ours.ToCore(), yardstick.ToCore());
        var test = Core.Statistics.welch(ours.ToCore(), yardstick.ToCore());
        var p = test is null ? "" : $" ({PValue(test.Value.P)})";
        if (real && difference > 0) return (text + $": beats it by {gap}, beyond the noise{p}", true);
        if (real && difference < 0) return (text + $": below it by {gap}, beyond the noise{p}", false);
        return (text + $": {(difference >= 0 ? "ahead" : "behind")} by {gap}, within noise{p}", false);
    }

    private static IEnumerable<Span> Clause(MetricVerdict verdict, Outcome outcome, IReadOnlyList<string> names)
    {
        var what = string.Join(" and ", names);
        var plural = names.Count > 1;
        return outcome switch
        {
            Outcome.Real => [Strong(verdict.Best), $" is better on {what} ({(plural ? "real differences" : "a real difference")})"],
            Outcome.WithinNoise => [Strong(verdict.Best), $" is ahead on {what}, inconclusive"],
            Outcome.NotJudged => [Strong(verdict.Best), $" is ahead on {what} (one repeat: not judged)"],
            Outcome.Level => [Strong(verdict.Best), " and ", Strong(verdict.RunnerUp!), $" are level on {what}"],
            _ => ["only ", Strong(verdict.Best), $" has {what}"],
        };
    }

    private static Outcome OutcomeOf(MetricVerdict verdict)
    {
        if (verdict.RunnerUp is null || verdict.RunnerUpSummary is null) return Outcome.Alone;
        if (verdict.Margin == 0) return Outcome.Level;
        if (verdict.BestSummary.Count < 2 || verdict.RunnerUpSummary.Count < 2) return Outcome.NotJudged;
        return verdict.Clear ? Outcome.Real : Outcome.WithinNoise;
    }

    /// <summary>The decimals of a comparison, by the report's one precision rule: two significant digits of the
    /// smaller non-zero spread (the metric's usual precision when neither has one), then more only if needed for the
    /// printed numbers to tell the same story as the exact ones: a non-zero lead does not print as 0 and unequal
    /// means do not print equal.</summary>
    private static int Decimals(Measure measure, MetricSummary best, MetricSummary other)
    {
        var spreads = new[] { best, other }.Where(s => s.Count > 1)
            .Select(s => Numbers.SpreadDecimals(measure.Scaled(s.Std))).OfType<int>().ToList();
        var start = spreads.Count > 0 ? spreads.Max() : measure.Decimals([best.Mean, other.Mean], best.Count > 1 || other.Count > 1);
        var margin = Math.Abs(best.Mean - other.Mean);
        bool Consistent(int d)
        {
            double Shown(double v) => measure.Shown(v, d);
            return margin == 0 || (Shown(margin) > 0 && Shown(best.Mean) != Shown(other.Mean));
        }
        return Enumerable.Range(start, 4).FirstOrDefault(Consistent, start + 4);
    }

    private static Span Strong(string text) => new(text, Strong: true);
}
