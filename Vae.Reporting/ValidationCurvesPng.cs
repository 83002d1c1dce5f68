using ScottPlot;

namespace Vae.Reporting;

/// <summary><c>validation-curves.png</c>: every model's validation loss per epoch on one axis: each repeat a thin line
/// with its best epoch circled, and, when there are several, their mean a thick line; a legend of model names.</summary>
internal static class ValidationCurvesPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height in pixels.</summary>
    public const int Height = 560;

    /// <summary>Every repeat's per-epoch history of <paramref name="model"/>, in repeat order (the model's own history
    /// when it carries no repeats).</summary>
    public static IReadOnlyList<IReadOnlyList<EpochReport>> Histories(ModelResult model) =>
        model.Repeats.Count > 0
            ? model.Repeats.Select(r => (IReadOnlyList<EpochReport>)r.Epochs.OrderBy(e => e.Epoch).ToList()).ToList()
            : [model.Epochs.OrderBy(e => e.Epoch).ToList()];

    /// <summary>The mean validation loss over <paramref name="histories"/> at each epoch every one of them trained
    /// (early stopping ends repeats at different epochs; the mean stops with the shortest).</summary>
    public static (double[] Epochs, double[] Mean) MeanCurve(IReadOnlyList<IReadOnlyList<EpochReport>> histories)
    {
        var common = histories.Select(h => h.Select(e => e.Epoch).ToHashSet())
            .Aggregate((all, next) => { all.IntersectWith(next); return all; })
            .Order().ToArray();
        var mean = common.Select(epoch => histories.Average(h => h.First(e => e.Epoch == epoch).ValLoss)).ToArray();
        return (common.Select(e => (double)e).ToArray(), mean);
    }

    /// <summary>The title both charts share: what the lines are.</summary>
    public static string Title(ExperimentResult experiment) =>
        experiment.Models.Any(m => Histories(m).Count > 1)
            ? $"{experiment.Experiment}: validation loss per epoch (thin: each repeat, best epoch circled; thick: their mean)"
            : $"{experiment.Experiment}: validation loss per epoch (best epoch circled)";

    /// <summary>Draws the picture of <paramref name="experiment"/> into <paramref name="path"/>.</summary>
    public static void Write(ExperimentResult experiment, string path)
    {
        var mixed = Findings.MixesKinds(experiment);
        using var plot = ChartStyle.NewPlot(Title(experiment), "epoch",
            mixed ? $"{ChartStyle.LossUnit} (VAE: reconstruction + KL; autoencoder: reconstruction)" : ChartStyle.LossUnit);
        ChartStyle.EpochAxis(plot, experiment.Models.SelectMany(m => m.Epochs.Select(e => e.Epoch)));

        for (var i = 0; i < experiment.Models.Count; i++)
        {
            var model = experiment.Models[i];
            var color = ChartStyle.ModelColor(i);
            var histories = Histories(model);
            var several = histories.Count > 1;
            foreach (var epochs in histories)
            {
                var curve = plot.Add.Scatter(epochs.Select(e => (double)e.Epoch).ToArray(), epochs.Select(e => e.ValLoss).ToArray(),
                    several ? color.WithAlpha(0.45) : color);
                curve.LineWidth = several ? 1 : 2;
                curve.MarkerSize = several ? 0 : 5;
                var best = epochs.Where(e => double.IsFinite(e.ValLoss)).MinBy(e => e.ValLoss);
                if (best is not null)
                {
                    var marker = plot.Add.Marker(best.Epoch, best.ValLoss, MarkerShape.OpenCircle, several ? 10 : 14, color);
                    marker.LineWidth = several ? 1.5f : 2;
                }
            }
            var (xs, mean) = several ? MeanCurve(histories) : (histories[0].Select(e => (double)e.Epoch).ToArray(), histories[0].Select(e => e.ValLoss).ToArray());
            // The legend's entry: the mean line (or the only repeat's line, drawn again without markers).
            var legend = plot.Add.Scatter(xs, mean, color);
            legend.LineWidth = several ? 3 : 2;
            legend.MarkerSize = several ? 0 : 5;
            legend.LegendText = mixed ? $"{model.Name} ({ModelText.Kind(model.Kind)})" : model.Name;
        }
        plot.ShowLegend(Edge.Right);

        using var figure = new Figure(Width, Height);
        figure.Draw(plot, 0, 0, Width, Height);
        figure.SavePng(path);
    }
}
