using ScottPlot;

namespace Vae.Facade.Reporting;

/// <summary><c>best-validation-loss.png</c>: one bar per model, its best validation loss; each bar labelled with
/// its value and its distance from the lowest, the lowest in red.</summary>
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
        var plot = ChartStyle.NewPlot($"{experiment.Experiment}: best validation loss of each model", "",
            mixed ? $"{ChartStyle.LossUnit} (VAE: reconstruction + KL; autoencoder: reconstruction)" : ChartStyle.LossUnit);
        using var _ = plot;

        var models = experiment.Models;
        var bars = models.Select((m, i) =>
        {
            var value = m.Best.ValLoss;
            var label = m == best
                ? $"{Numbers.Nats(value)}\nlowest"
                : $"{Numbers.Nats(value)}\n+{Numbers.Difference(value - best.Best.ValLoss)}";
            return new Bar
            {
                Position = i,
                Value = double.IsFinite(value) ? value : 0,
                FillColor = m == best ? ChartStyle.Highlight : ChartStyle.Plain,
                LineWidth = 0,
                Label = label,
                Size = 0.6,
            };
        }).ToList();
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 13;
        barPlot.ValueLabelStyle.FontName = ChartStyle.FontName;

        var names = models.Select(m => mixed ? $"{m.Name}\n({ModelText.Kind(m.Kind)})" : m.Name).ToArray();
        plot.Axes.Bottom.SetTicks(models.Select((_, i) => (double)i).ToArray(), names);
        plot.Axes.Bottom.TickLabelStyle.FontSize = models.Count > 5 ? 11 : 13;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        var top = models.Select(m => m.Best.ValLoss).Where(double.IsFinite).DefaultIfEmpty(1).Max();
        // Bars start at zero so that their lengths are proportional to the losses; the labels carry the differences.
        plot.Axes.SetLimits(-0.6, models.Count - 0.4, 0, top * 1.18);

        using var figure = new Figure(Width, Height);
        figure.Draw(plot, 0, 0, Width, Height);
        figure.SavePng(path);
    }
}
