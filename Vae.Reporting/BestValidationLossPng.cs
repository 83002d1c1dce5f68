using ScottPlot;

namespace Vae.Reporting;

/// <summary><c>best-validation-loss.png</c>: one bar per model, its best validation loss (the mean over repeats, with
/// a bar of ± one standard deviation when trained more than once); each bar labelled with its value and its distance
/// from the lowest, the lowest in red.</summary>
internal static class BestValidationLossPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height in pixels.</summary>
    public const int Height = 560;

    /// <summary>Draws the picture of <paramref name="experiment"/> into <paramref name="path"/>.</summary>
    public static void Write(ExperimentResult experiment, string path)
    {
        var best = Findings.Best(experiment);
        var mixed = Findings.MixesKinds(experiment);
        var repeated = Findings.Repeated(experiment);
        var plot = ChartStyle.NewPlot(
            repeated
                ? $"{experiment.Experiment}: best validation loss of each model, mean ± standard deviation over {experiment.Repeats} repeats"
                : $"{experiment.Experiment}: best validation loss of each model", "",
            mixed ? $"{ChartStyle.LossUnit} (VAE: reconstruction + KL; autoencoder: reconstruction)" : ChartStyle.LossUnit);
        using var _ = plot;

        var models = experiment.Models;
        var summaries = models.Select(m => RepeatSummaries.Of(m, Core.Metrics.validationLoss)).ToList();
        var lowest = RepeatSummaries.ValidationLoss(best);
        var top = summaries.Select(s => s.Mean + s.Std).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        // About the pixels per nat of the frame (the picture less its title and axis bands), to lift each label
        // above its error bar.
        var pixelsPerNat = (Height - 110) / (top * 1.18);
        var bars = models.Select((m, i) =>
        {
            var summary = summaries[i];
            var value = summary.Mean;
            var label = m == best
                ? $"{Numbers.MeanSd(summary, Numbers.Nats)}\nlowest"
                : $"{Numbers.MeanSd(summary, Numbers.Nats)}\n+{Numbers.Difference(value - lowest)}";
            return new Bar
            {
                Position = i,
                Value = double.IsFinite(value) ? value : 0,
                FillColor = m == best ? ChartStyle.Highlight : ChartStyle.Plain,
                LineWidth = 0,
                Label = label,
                LabelOffset = 5 + (float)(summary.Count > 1 && double.IsFinite(summary.Std) ? summary.Std * pixelsPerNat : 0),
                Size = 0.6,
            };
        }).ToList();
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 13;
        barPlot.ValueLabelStyle.FontName = ChartStyle.FontName;
        if (repeated)
        {
            // Drawn apart from the bars: a bar's own error line takes the bar's outline width, which is 0 here.
            var errors = plot.Add.ErrorBar(
                summaries.Select((_, i) => (double)i).ToArray(),
                summaries.Select(s => double.IsFinite(s.Mean) ? s.Mean : 0).ToArray(),
                summaries.Select(s => s.Count > 1 && double.IsFinite(s.Std) ? s.Std : 0).ToArray());
            errors.LineWidth = 2;
            errors.LineColor = Colors.Black;
            errors.CapSize = 12;
        }

        var names = models.Select(m => mixed ? $"{m.Name}\n({ModelText.Kind(m.Kind)})" : m.Name).ToArray();
        plot.Axes.Bottom.SetTicks(models.Select((_, i) => (double)i).ToArray(), names);
        plot.Axes.Bottom.TickLabelStyle.FontSize = models.Count > 5 ? 11 : 13;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        // Bars start at zero so that their lengths are proportional to the losses; the labels carry the differences.
        plot.Axes.SetLimits(-0.6, models.Count - 0.4, 0, top * 1.18);

        using var figure = new Figure(Width, Height);
        figure.Draw(plot, 0, 0, Width, Height);
        figure.SavePng(path);
    }
}
