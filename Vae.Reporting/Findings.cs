using System.Globalization;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace Vae.Reporting;

/// <summary>Sentences computed from an experiment's numbers: which model is lowest on each metric and by how much,
/// and how a VAE compares with an autoencoder. Nothing here is written unless the numbers say it.</summary>
internal static class Findings
{
    /// <summary>The model with the lowest best validation loss, as a mean over repeats (the run's selection
    /// criterion); the first in definition order on a tie.</summary>
    public static ModelResult Best(ExperimentResult experiment) => Lowest(experiment.Models)!;

    /// <summary>The model with the lowest mean best validation loss among <paramref name="models"/>, a diverged
    /// (NaN) one last; null when there are none.</summary>
    private static ModelResult? Lowest(IEnumerable<ModelResult> models) =>
        Core.Statistics.best(Core.Statistics.Better.Lower, FuncConvert.FromFunc<ModelResult, double>(RepeatSummaries.ValidationLoss), ListModule.OfSeq(models))?.Value;

    /// <summary>True when some model of the experiment was trained more than once.</summary>
    public static bool Repeated(ExperimentResult experiment) => experiment.Models.Any(RepeatSummaries.Repeated);

    /// <summary>True when the experiment holds both VAEs and autoencoders.</summary>
    public static bool MixesKinds(ExperimentResult experiment) =>
        experiment.Models.Select(m => m.Kind).Distinct().Count() > 1;

    /// <summary>The sentence naming the best model, and a second one when the result's own <c>Best</c> field
    /// disagrees with the numbers.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> BestModel(ExperimentResult experiment)
    {
        var best = Best(experiment);
        var sentences = new List<IReadOnlyList<Span>>
        {
            RepeatSummaries.Repeated(best)
                ? new Span[]
                {
                    $"Best model by the run's criterion, the lowest best validation loss (mean over {best.Repeats.Count} repeats): ", Strong(best.Name),
                    $" ({ModelText.Architecture(best)}), {Numbers.MeanSd(RepeatSummaries.Of(best, Core.Metrics.validationLoss), Numbers.Nats)} nats per image, "
                    + $"best epochs {string.Join(", ", best.Repeats.Select(r => r.BestEpoch))}.",
                }
                : new Span[]
                {
                    "Best model by the run's criterion, the lowest best validation loss: ", Strong(best.Name),
                    $" ({ModelText.Architecture(best)}), {Numbers.Nats(best.Best.ValLoss)} nats per image at epoch {best.BestEpoch} of {best.Epochs.Count}.",
                },
        };
        if (!string.Equals(experiment.Best, best.Name, StringComparison.Ordinal))
        {
            var named = experiment.Models.FirstOrDefault(m => m.Name == experiment.Best);
            sentences.Add(named is null
                ? new Span[] { $"The results name \"{experiment.Best}\" as best, but no model has that name." }
                : new Span[]
                {
                    "The results name ", Strong(named.Name), $" as best, but its best validation loss is {Numbers.Nats(RepeatSummaries.ValidationLoss(named))}, above ",
                    Strong(best.Name), "'s.",
                });
        }
        if (MixesKinds(experiment))
            sentences.Add(new Span[]
            {
                "An autoencoder's loss is its reconstruction alone and a VAE's adds the KL term, so across kinds only the reconstruction columns compare like with like.",
            });
        return sentences;
    }

    /// <summary>One sentence per metric and group of comparable models: the lowest, its margin over the next
    /// and, with three or more models, over the highest.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> LowestOnEachMetric(ExperimentResult experiment)
    {
        var sentences = new List<IReadOnlyList<Span>>();
        var mixed = MixesKinds(experiment);
        foreach (var metric in Metric.All)
            foreach (var (group, qualifier) in Groups(experiment, metric.Scope, mixed))
            {
                var sentence = Lowest(metric, group, qualifier);
                if (sentence is not null) sentences.Add(sentence);
            }
        return sentences;
    }

    private static IEnumerable<(IReadOnlyList<ModelResult> Models, string Qualifier)> Groups(
        ExperimentResult experiment, MetricScope scope, bool mixed)
    {
        var vaes = experiment.Models.Where(m => m.Kind.HasPosterior()).ToList();
        switch (scope)
        {
            case MetricScope.AllModels:
                yield return (experiment.Models, "");
                break;
            case MetricScope.VaesOnly:
                yield return (vaes, mixed ? " among the VAEs" : "");
                break;
            case MetricScope.SameKind when mixed:
                foreach (var kind in experiment.Models.Select(m => m.Kind).Distinct())
                    yield return (experiment.Models.Where(m => m.Kind == kind).ToList(),
                        kind.HasPosterior() ? " among the VAEs" : " among the autoencoders");
                break;
            case MetricScope.SameKind:
                yield return (experiment.Models, "");
                break;
        }
    }

    /// <summary>"five-layer has the lowest test loss: 250.1, 3.2 (1.3 %) below baseline (253.3)."; null with
    /// fewer than two finite values.</summary>
    internal static IReadOnlyList<Span>? Lowest(Metric metric, IReadOnlyList<ModelResult> models, string qualifier)
    {
        var ranked = Core.Statistics.ranked(
                Core.Statistics.Better.Lower,
                FuncConvert.FromFunc<(ModelResult Model, double Value), double>(x => x.Value),
                ListModule.OfSeq(models.Select(m => (Model: m, Value: metric.Value(m))).Where(x => Numbers.Finite(x.Value))))
            .ToList();
        if (ranked.Count < 2) return null;

        var lowest = ranked[0].Value;
        var tied = ranked.TakeWhile(x => x.Value == lowest).ToList();
        var rest = ranked.Skip(tied.Count).ToList();
        // Every number of the sentence at one precision: that of its widest comparison.
        var compared = new[] { rest.FirstOrDefault().Model, rest.LastOrDefault().Model }.Where(m => m is not null)
            .Select(m => Numbers.ComparisonDecimals(metric.Summary(tied[0].Model), metric.Summary(m!))).OfType<int>().ToList();
        int? decimals = compared.Count > 0 ? compared.Max() : null;
        string Shown(ModelResult model) => Numbers.MeanSdAt(metric.Summary(model), decimals, metric.Format);
        var spans = new List<Span>();
        if (tied.Count == 1)
            spans.AddRange([Strong(tied[0].Model.Name), $" has {metric.Lowest}{qualifier}: {Shown(tied[0].Model)}"]);
        else
        {
            spans.AddRange(Names(tied.Select(x => x.Model.Name).ToList()));
            spans.Add($" share {metric.Lowest}{qualifier}: {Shown(tied[0].Model)}");
        }

        if (rest.Count > 0)
        {
            spans.Add(", ");
            spans.AddRange(Margin(metric, tied[0].Model, rest[0].Model, decimals, Shown));
            if (rest.Count > 1)
            {
                spans.Add(", and ");
                spans.AddRange(Margin(metric, tied[0].Model, rest[^1].Model, decimals, Shown, metric.Highest + ", "));
            }
        }
        spans.Add(".");
        return spans;
    }

    /// <summary>"3.20 (1.3 %) below baseline (253.30 ± 0.40)": the difference of the means at the sentence's
    /// <paramref name="decimals"/> (the report's one precision rule), and as a share of the other model's mean.</summary>
    private static IEnumerable<Span> Margin(Metric metric, ModelResult lowest, ModelResult other, int? decimals,
        Func<ModelResult, string> shown, string label = "")
    {
        var (ours, theirs) = (metric.Summary(lowest), metric.Summary(other));
        var difference = theirs.Mean - ours.Mean;
        var text = decimals is { } d ? Numbers.Fixed(difference, d) : metric.FormatDifference(difference);
        var percent = theirs.Mean != 0.0 ? $" ({Numbers.Percent(100.0 * difference / Math.Abs(theirs.Mean))})" : "";
        return [$"{text}{percent} {metric.Below} {label}", Strong(other.Name), $" ({shown(other)})"];
    }

    /// <summary>The comparison of the best VAE with the best autoencoder of an experiment that holds both; empty
    /// otherwise.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> VaeAgainstAutoencoder(ExperimentResult experiment)
    {
        var vae = Lowest(experiment.Models.Where(m => m.Kind.HasPosterior()));
        var autoencoder = Lowest(experiment.Models.Where(m => !m.Kind.HasPosterior()));
        if (vae is null || autoencoder is null) return [];

        var sentences = new List<IReadOnlyList<Span>>();
        var several = experiment.Models.Count(m => m.Kind.HasPosterior()) > 1
                      || experiment.Models.Count(m => !m.Kind.HasPosterior()) > 1;
        if (several)
            sentences.Add(new Span[] { "Compared: the VAE and the autoencoder with the lowest best validation loss of their kind." });
        foreach (var model in new[] { vae, autoencoder }.Where(m => m.ReusedFrom is not null))
            sentences.Add(new Span[] { Strong(model.Name), $" was trained in {model.ReusedFrom} and reused here." });

        sentences.Add(Versus(vae, autoencoder, m => RepeatSummaries.Of(m, Core.Metrics.testReconstruction), Numbers.Nats, Numbers.Difference,
            "reconstructs the test set better", "reconstruct the test set equally well", "test reconstruction", " nats per image"));
        var vaeKl = RepeatSummaries.Of(vae, Core.Metrics.testKl);
        var vaeLoss = RepeatSummaries.Of(vae, Core.Metrics.testLoss);
        var autoencoderLoss = RepeatSummaries.Of(autoencoder, Core.Metrics.testLoss);
        sentences.Add(new Span[]
        {
            "The VAE's test loss adds a KL term of ", $"{Numbers.MeanSd(vaeKl, Numbers.Nats)} (total {Numbers.MeanSd(vaeLoss, Numbers.Nats)}); the autoencoder's test loss is its reconstruction alone ({Numbers.MeanSd(autoencoderLoss, Numbers.Nats)}).",
        });
        sentences.Add(Versus(vae, autoencoder, m => RepeatSummaries.Of(m, Core.Metrics.generationDistance), Numbers.General, Numbers.Difference,
            "generates images closer to real ones from N(0, I)", "generate images equally close to real ones from N(0, I)",
            "Fréchet distance to the test images in PCA space", ""));
        sentences.Add(Versus(vae, autoencoder, m => RepeatSummaries.Of(m, Core.Metrics.fittedGenerationDistance), Numbers.General, Numbers.Difference,
            "generates images closer to real ones from a Gaussian fitted to its training codes",
            "generate images equally close to real ones from Gaussians fitted to their training codes",
            "Fréchet distance to the test images in PCA space", ""));
        sentences.Add(new Span[]
        {
            "Drawing codes from N(0, I) suits only the VAE, which its KL term trained to give codes that distribution; a Gaussian fitted (full covariance) to each model's own training codes is the fair comparison for the autoencoder.",
        });
        sentences.Add(new Span[]
        {
            "Parameters: ", Strong(vae.Name), $" {Numbers.Count(vae.Parameters)}, ", Strong(autoencoder.Name), $" {Numbers.Count(autoencoder.Parameters)}.",
        });
        return sentences;
    }

    /// <summary>What the active units explain, from the numbers: each VAE whose mean active units are below half its latent
    /// size is named as collapsed (how many dimensions carry the KL, which, and how much of it); and, over three or more
    /// VAEs, the rank correlation of active units with test reconstruction and with generation from N(0, I), stated when
    /// it is strong (|ρ| ≥ 0.7). Empty when there is nothing to say.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> LatentUsage(ExperimentResult experiment)
    {
        var sentences = new List<IReadOnlyList<Span>>();
        var vaes = experiment.Models.Where(m => m.Kind.HasPosterior()).ToList();
        foreach (var m in vaes)
        {
            if (!Collapsed(m) || m.KlPerDim.Count != m.Latent) continue;
            var units = RepeatSummaries.Of(m, Core.Metrics.activeUnits).Mean;
            // The first repeat's dimensions, by their share of the KL: its active units carry it.
            var carrying = m.KlPerDim.Select((kl, i) => (Kl: kl, Dimension: i)).OrderByDescending(d => d.Kl).Take(m.ActiveUnits).ToList();
            var total = m.KlPerDim.Sum();
            var share = total > 0 ? carrying.Sum(d => d.Kl) / total : 0;
            sentences.Add(new Span[]
            {
                Strong(m.Name), $" uses {Numbers.Fixed(units, 1)} of its {m.Latent} latent dimensions (mean over the repeats): posterior collapse. "
                + $"In the first repeat dimensions {string.Join(", ", carrying.Select(d => d.Dimension).OrderBy(d => d))} carry "
                + $"{Numbers.Percent(100 * share)} of its test KL ({Numbers.Nats(total)} nats); the other {m.Latent - carrying.Count} stay at the prior, "
                + "so a larger latent size adds nothing the decoder uses.",
            });
        }
        if (vaes.Count >= 3)
        {
            var units = vaes.Select(m => RepeatSummaries.Of(m, Core.Metrics.activeUnits).Mean).ToArray();
            void Link(Core.Metrics.Metric metric, string what, string ifLowerWithMore, string ifLowerWithFewer)
            {
                var values = vaes.Select(m => RepeatSummaries.Of(m, metric).Mean).ToArray();
                var rho = Spearman(units, values);
                if (!(Math.Abs(rho) >= 0.7)) return;
                var r = rho.ToString("F2", CultureInfo.InvariantCulture).Replace("-", "−");
                sentences.Add(new Span[]
                {
                    rho < 0
                        ? $"Across the {vaes.Count} VAEs, more active units go with lower {what} (Spearman ρ = {r}){ifLowerWithMore}."
                        : $"Across the {vaes.Count} VAEs, fewer active units go with lower {what} (Spearman ρ = {r}){ifLowerWithFewer}.",
                });
            }
            Link(Core.Metrics.testReconstruction, "test reconstruction", ": the more dimensions the decoder is given, the better it reconstructs", "");
            Link(Core.Metrics.generationDistance, "distance of images generated from N(0, I) to the test images", "",
                ": a code closer to the prior is easier to sample from");
        }
        else if (vaes.Count == 2)
            sentences.AddRange(PairLinks(vaes[0], vaes[1]));
        return sentences;
    }

    /// <summary>With two VAEs, a rank correlation says nothing: the link is stated when the t-test confirms that one
    /// keeps more active units and that it also reconstructs better (the decoder is given more), and, separately,
    /// that the other generates better from N(0, I) (its code is closer to the prior). Nothing when the repeats do
    /// not show the differences.</summary>
    private static IEnumerable<IReadOnlyList<Span>> PairLinks(ModelResult a, ModelResult b)
    {
        MetricSummary Of(ModelResult m, Core.Metrics.Metric metric) => RepeatSummaries.Of(m, metric);
        bool Real(Core.Metrics.Metric metric) =>
            Of(a, metric).Count > 1 && Of(b, metric).Count > 1 && Core.Statistics.leadIsReal(Of(a, metric).ToCore(), Of(b, metric).ToCore());
        if (!Real(Core.Metrics.activeUnits)) yield break;
        var (more, fewer) = Of(a, Core.Metrics.activeUnits).Mean > Of(b, Core.Metrics.activeUnits).Mean ? (a, b) : (b, a);
        string Units(ModelResult m) => Numbers.Fixed(Of(m, Core.Metrics.activeUnits).Mean, 1);
        string Pair(Core.Metrics.Metric metric, ModelResult first, ModelResult second, Func<double, string> format)
        {
            var decimals = Numbers.ComparisonDecimals(Of(first, metric), Of(second, metric));
            return $"{Numbers.MeanSdAt(Of(first, metric), decimals, format)} against {Numbers.MeanSdAt(Of(second, metric), decimals, format)}";
        }
        if (Real(Core.Metrics.testReconstruction) && Of(more, Core.Metrics.testReconstruction).Mean < Of(fewer, Core.Metrics.testReconstruction).Mean)
            yield return new Span[]
            {
                Strong(more.Name), $" keeps {Units(more)} active units against {Units(fewer)} for ", Strong(fewer.Name),
                $" and reconstructs the test set better ({Pair(Core.Metrics.testReconstruction, more, fewer, Numbers.Nats)} nats per image; both differences real): "
                + "the decoder is given more dimensions that carry information about the image.",
            };
        if (Real(Core.Metrics.generationDistance) && Of(fewer, Core.Metrics.generationDistance).Mean < Of(more, Core.Metrics.generationDistance).Mean)
            yield return new Span[]
            {
                Strong(fewer.Name), $", with fewer active units ({Units(fewer)} against {Units(more)}), generates images from N(0, I) closer to real ones "
                + $"(Fréchet distance {Pair(Core.Metrics.generationDistance, fewer, more, Numbers.General)}; both differences real): "
                + "a code whose unused dimensions stay at the prior leaves fewer regions of N(0, I) that decode to nothing like the data.",
            };
    }

    /// <summary>Whether a VAE's posterior collapsed: its mean active units are below half its latent size.</summary>
    public static bool Collapsed(ModelResult model) =>
        model.Kind.HasPosterior() && RepeatSummaries.Of(model, Core.Metrics.activeUnits).Mean < 0.5 * model.Latent;

    /// <summary>Spearman's rank correlation (average ranks for ties); NaN when either side does not vary.</summary>
    internal static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        static double[] Ranks(IReadOnlyList<double> v)
        {
            var order = v.Select((value, i) => (value, i)).OrderBy(p => p.value).ToArray();
            var ranks = new double[v.Count];
            for (var start = 0; start < order.Length;)
            {
                var end = start;
                while (end + 1 < order.Length && order[end + 1].value == order[start].value) end++;
                for (var k = start; k <= end; k++) ranks[order[k].i] = (start + end) / 2.0 + 1;
                start = end + 1;
            }
            return ranks;
        }
        var (rx, ry) = (Ranks(x), Ranks(y));
        var (mx, my) = (rx.Average(), ry.Average());
        var cov = rx.Zip(ry, (a, b) => (a - mx) * (b - my)).Sum();
        var sx = Math.Sqrt(rx.Sum(a => (a - mx) * (a - mx)));
        var sy = Math.Sqrt(ry.Sum(b => (b - my) * (b - my)));
        return sx == 0 || sy == 0 ? double.NaN : cov / (sx * sy);
    }

    /// <summary>The trainings whose best epoch is the epoch cap (still improving when stopped), per model: (model, how
    /// many of its repeats, of how many); empty when none is, or when the cap is unknown.</summary>
    public static IReadOnlyList<(ModelResult Model, int AtCap, int Repeats)> UnderTrained(ExperimentResult experiment) =>
        experiment.MaxEpochs is not { } cap
            ? []
            : experiment.Models
                .Select(m => (Model: m, AtCap: m.Repeats.Count(r => r.BestEpoch == cap), Repeats: m.Repeats.Count))
                .Where(t => t.AtCap > 0)
                .ToList();

    /// <summary>"16 of 18 trainings had their best epoch at the 10-epoch cap (h400-z40: 3 of 3, …): they were still
    /// improving when stopped, and the ranking may change with more epochs (--epochs)."; null when none did.</summary>
    public static string? UnderTrainingWarning(ExperimentResult experiment)
    {
        var under = UnderTrained(experiment);
        if (under.Count == 0) return null;
        var total = experiment.Models.Sum(m => m.Repeats.Count);
        var atCap = under.Sum(u => u.AtCap);
        var which = string.Join(", ", under.Select(u => $"{u.Model.Name}: {u.AtCap} of {u.Repeats}"));
        return $"{atCap} of {total} trainings had their best epoch at the {experiment.MaxEpochs}-epoch cap ({which}): they were still "
               + "improving when stopped, so their numbers understate what the architecture can do and the ranking may change with more "
               + "epochs (--epochs).";
    }

    /// <summary>For each group of VAEs that differ only in β (same convolutions, widths and latent size): each β's test
    /// reconstruction, KL, active units and IWAE NLL, and what raising β from the lowest to the highest did to them,
    /// in numbers. Empty when no two VAEs differ only in β.</summary>
    public static IReadOnlyList<IReadOnlyList<Span>> BetaTradeOff(ExperimentResult experiment)
    {
        var sentences = new List<IReadOnlyList<Span>>();
        var groups = experiment.Models
            .Where(m => m.Kind.HasPosterior())
            .GroupBy(m => $"{ModelText.Widths(m)}")
            .Where(g => g.Select(m => m.Beta).Distinct().Count() > 1);
        foreach (var group in groups)
        {
            var models = group.OrderBy(m => m.Beta).ToArray();
            MetricSummary Of(ModelResult m, Core.Metrics.Metric metric) => RepeatSummaries.Of(m, metric);
            string Beta(ModelResult m) => m.Beta.ToString(CultureInfo.InvariantCulture);
            var spans = new List<Span> { $"VAE {group.Key}, by β: " };
            foreach (var (m, i) in models.Select((m, i) => (m, i)))
            {
                if (i > 0) spans.Add("; ");
                spans.Add(Strong($"β = {Beta(m)}"));
                spans.Add($" ({m.Name}): test reconstruction {Numbers.MeanSd(Of(m, Core.Metrics.testReconstruction), Numbers.Nats)}, "
                    + $"KL {Numbers.MeanSd(Of(m, Core.Metrics.testKl), Numbers.Nats)}, "
                    + $"{Numbers.MeanSd(Of(m, Core.Metrics.activeUnits), v => Numbers.Fixed(v, 1))} of {m.Latent} active units, "
                    + $"IWAE NLL {Numbers.MeanSd(Of(m, Core.Metrics.iwaeNll), Numbers.Nats)}");
            }
            spans.Add(".");
            sentences.Add(spans);

            var (low, high) = (models[0], models[^1]);
            static string Change(double difference) => difference >= 0 ? "raised" : "lowered";
            double Mean(ModelResult m, Core.Metrics.Metric metric) => Of(m, metric).Mean;
            var reconstruction = Mean(high, Core.Metrics.testReconstruction) - Mean(low, Core.Metrics.testReconstruction);
            var (unitsLow, unitsHigh) = (Mean(low, Core.Metrics.activeUnits), Mean(high, Core.Metrics.activeUnits));
            var (klLow, klHigh) = (Mean(low, Core.Metrics.testKl), Mean(high, Core.Metrics.testKl));
            var units = unitsHigh < unitsLow ? $"fewer active units ({Numbers.Fixed(unitsLow, 1)} → {Numbers.Fixed(unitsHigh, 1)})"
                : unitsHigh > unitsLow ? $"more active units ({Numbers.Fixed(unitsLow, 1)} → {Numbers.Fixed(unitsHigh, 1)})"
                : $"as many active units ({Numbers.Fixed(unitsLow, 1)})";
            var trade = reconstruction > 0 && klHigh < klLow
                ? "a code closer to the prior paid for with reconstruction: the trade β controls"
                : "not the expected trade (reconstruction against a code closer to the prior)";
            sentences.Add(new Span[]
            {
                $"Raising β from {Beta(low)} to {Beta(high)} {Change(reconstruction)} the test reconstruction by {Numbers.Difference(Math.Abs(reconstruction))} nats per image "
                + $"and {Change(klHigh - klLow)} the KL by {Numbers.Difference(Math.Abs(klHigh - klLow))} nats, with {units}: {trade}. "
                + "The negative ELBO (test loss) and the IWAE NLL compare the models on one scale; each model minimised its own reconstruction + β·KL.",
            });
        }
        return sentences;
    }

    /// <summary>"The autoencoder ae reconstructs the test set better: 238.2 against 245.1 nats per image for the
    /// VAE five-layer, 6.9 (2.8 %) lower."; with repeats, the means ± standard deviations, and a difference Welch's
    /// t-test does not show to be real (p ≥ 0.05) is called that rather than a win.</summary>
    private static IReadOnlyList<Span> Versus(
        ModelResult a, ModelResult b, Func<ModelResult, MetricSummary> summary, Func<double, string> format,
        Func<double, string> difference, string better, string equal, string what, string unit)
    {
        var (sa, sb) = (summary(a), summary(b));
        var (va, vb) = (sa.Mean, sb.Mean);
        if (!Numbers.Finite(va) || !Numbers.Finite(vb))
            return new Span[] { $"The {what} is not available for both models ({format(va)} and {format(vb)})." };
        if (va == vb)
            return new Span[] { $"The {ModelText.Kind(a.Kind)} ", Strong(a.Name), $" and the {ModelText.Kind(b.Kind)} ", Strong(b.Name), $" {equal}: {what} {format(va)}{unit}." };
        var (low, high) = va < vb ? (a, b) : (b, a);
        var (sl, sh) = va < vb ? (sa, sb) : (sb, sa);
        var (vl, vh) = (sl.Mean, sh.Mean);
        var percent = vh != 0.0 ? $" ({Numbers.Percent(100.0 * (vh - vl) / Math.Abs(vh))})" : "";
        var repeated = sl.Count > 1 && sh.Count > 1;
        var test = repeated ? Core.Statistics.welch(sl.ToCore(), sh.ToCore()) : null;
        var p = test is null ? "" : $" (Welch's t-test, {VerdictSentences.PValue(test.Value.P)})";
        if (repeated && !Core.Statistics.leadIsReal(sl.ToCore(), sh.ToCore()))
            return new Span[]
            {
                $"The {ModelText.Kind(low.Kind)} ", Strong(low.Name), $" and the {ModelText.Kind(high.Kind)} ", Strong(high.Name),
                $" {equal}, within noise: {what} {Numbers.MeanSdAt(sl, Numbers.ComparisonDecimals(sl, sh), format)} against {Numbers.MeanSdAt(sh, Numbers.ComparisonDecimals(sl, sh), format)}{unit}, "
                + $"{Numbers.DifferenceOf(sl, sh, vh - vl, difference)} apart, a difference the repeats do not show to be real{p}.",
            };
        return new Span[]
        {
            $"The {ModelText.Kind(low.Kind)} ", Strong(low.Name), $" {better}: {what} {Numbers.MeanSdAt(sl, Numbers.ComparisonDecimals(sl, sh), format)} against {Numbers.MeanSdAt(sh, Numbers.ComparisonDecimals(sl, sh), format)}{unit} for the {ModelText.Kind(high.Kind)} ",
            Strong(high.Name), $", {Numbers.DifferenceOf(sl, sh, vh - vl, difference)}{percent} lower{(repeated ? $", beyond the noise{p}" : "")}.",
        };
    }

    private static IEnumerable<Span> Names(IReadOnlyList<string> names)
    {
        for (var i = 0; i < names.Count; i++)
        {
            if (i > 0) yield return i == names.Count - 1 ? " and " : ", ";
            yield return Strong(names[i]);
        }
    }

    private static Span Strong(string text) => new(text, Strong: true);
}
