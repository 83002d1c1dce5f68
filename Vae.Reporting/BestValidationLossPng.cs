using ScottPlot;

namespace Vae.Reporting;

/// <summary><c>best-validation-loss.png</c>: one point per model, its best validation loss (the mean over repeats, with
/// its 95 % confidence interval, mean ± t(0.975, n − 1) · sd / √n, when trained more than once), on an axis fitted to the
/// intervals so that differences of a nat or two show; each point labelled with its value and its distance from the
/// lowest, the lowest in red (not when the experiment mixes VAEs and autoencoders, whose losses do not compare).</summary>
internal static class BestValidationLossPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height in pixels.</summary>
    public const int Height = 560;

    /// <summary>Half the width of the 95 % confidence interval of a mean over repeats; 0 for one repeat.</summary>
    public static double HalfInterval(MetricSummary summary) =>
        summary.Count > 1 && double.IsFinite(summary.Std)
            ? Core.Statistics.studentQuantile(summary.Count - 1, 0.975) * summary.Std / Math.Sqrt(summary.Count)
            : 0;

    /// <summary>The y-axis range: the intervals' lowest and highest ends, padded by a fifth of their span (at least
    /// half a nat), with room above for the labels.</summary>
    public static (double Low, double High) AxisRange(IReadOnlyList<MetricSummary> summaries)
    {
        var finite = summaries.Where(s => double.IsFinite(s.Mean)).ToList();
        if (finite.Count == 0) return (0, 1);
        var low = finite.Min(s => s.Mean - HalfInterval(s));
        var high = finite.Max(s => s.Mean + HalfInterval(s));
        var pad = Math.Max(0.5, 0.2 * (high - low));
        return (low - pad, high + 2.2 * pad);
    }

    /// <summary>Draws the picture of <paramref name="experiment"/> into <paramref name="path"/>.</summary>
    public static void Write(ExperimentResult experiment, string path)
    {
        var best = Findings.Best(experiment);
        var mixed = Findings.MixesKinds(experiment);
        var repeated = Findings.Repeated(experiment);
        var plot = ChartStyle.NewPlot(
            repeated
                ? $"{experiment.Experiment}: best validation loss of each model, mean and 95 % confidence interval over {experiment.Repeats} repeats"
                : $"{experiment.Experiment}: best validation loss of each model", "",
            mixed ? $"{ChartStyle.LossUnit} (VAE: reconstruction + KL; autoencoder: reconstruction)" : ChartStyle.LossUnit);
        using var _ = plot;

        var models = experiment.Models;
        var summaries = models.Select(m => RepeatSummaries.Of(m, Core.Metrics.validationLoss)).ToList();
        var lowest = RepeatSummaries.Of(best, Core.Metrics.validationLoss);
        var (bottom, top) = AxisRange(summaries);
        var pixelsPerNat = (Height - 110) / (top - bottom);
        for (var i = 0; i < models.Count; i++)
        {
            var (m, summary) = (models[i], summaries[i]);
            if (!double.IsFinite(summary.Mean)) continue;
            // Across kinds the losses do not compare like with like: no model is painted lowest.
            var lowestHere = m == best && !mixed;
            var color = lowestHere ? ChartStyle.Highlight : ChartStyle.Plain;
            var half = HalfInterval(summary);
            if (half > 0)
            {
                var errors = plot.Add.ErrorBar([i], [summary.Mean], [half]);
                errors.LineWidth = 2;
                errors.LineColor = color;
                errors.CapSize = 12;
            }
            var point = plot.Add.Scatter(new double[] { i }, new[] { summary.Mean });
            point.LineWidth = 0;
            point.MarkerSize = 12;
            point.MarkerShape = MarkerShape.FilledCircle;
            point.Color = color;
            var label = plot.Add.Text(
                mixed ? Numbers.MeanSd(summary, Numbers.Nats)
                : lowestHere ? $"{Numbers.MeanSd(summary, Numbers.Nats)}\nlowest" : $"{Numbers.MeanSd(summary, Numbers.Nats)}\n+{Numbers.DifferenceOf(summary, lowest, summary.Mean - lowest.Mean, Numbers.Difference)}",
                i, summary.Mean + half + 8 / pixelsPerNat);
            label.LabelFontSize = 13;
            label.LabelFontName = ChartStyle.FontName;
            label.LabelAlignment = Alignment.LowerCenter;
        }

        var names = models.Select(m => mixed ? $"{m.Name}\n({ModelText.Kind(m.Kind)})" : m.Name).ToArray();
        plot.Axes.Bottom.SetTicks(models.Select((_, i) => (double)i).ToArray(), names);
        plot.Axes.Bottom.TickLabelStyle.FontSize = models.Count > 5 ? 11 : 13;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        // The axis is fitted to the intervals (it does not start at 0): the differences are a nat or two in ~250.
        plot.Axes.SetLimits(-0.6, models.Count - 0.4, bottom, top);

        using var figure = new Figure(Width, Height);
        figure.Draw(plot, 0, 0, Width, Height);
        figure.SavePng(path);
    }
}
