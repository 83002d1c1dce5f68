using ScottPlot;

namespace Vae.Reporting;

/// <summary><c>validation-curves.png</c>: every model's validation loss per epoch on one axis, each model's best
/// epoch circled, a legend of model names.</summary>
internal static class ValidationCurvesPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 1000;

    /// <summary>Height in pixels.</summary>
    public const int Height = 560;

    /// <summary>Draws the picture of <paramref name="experiment"/> into <paramref name="path"/>.</summary>
    public static void Write(ExperimentResult experiment, string path)
    {
        var mixed = Findings.MixesKinds(experiment);
        using var plot = ChartStyle.NewPlot($"{experiment.Experiment}: validation loss per epoch (best epoch circled)", "epoch",
            mixed ? $"{ChartStyle.LossUnit} (VAE: reconstruction + KL; autoencoder: reconstruction)" : ChartStyle.LossUnit);
        ChartStyle.EpochAxis(plot, experiment.Models.SelectMany(m => m.Epochs.Select(e => e.Epoch)));

        for (var i = 0; i < experiment.Models.Count; i++)
        {
            var model = experiment.Models[i];
            var color = ChartStyle.ModelColor(i);
            var epochs = model.Epochs.OrderBy(e => e.Epoch).ToList();
            var curve = plot.Add.Scatter(epochs.Select(e => (double)e.Epoch).ToArray(), epochs.Select(e => e.ValLoss).ToArray(), color);
            curve.LegendText = mixed ? $"{model.Name} ({ModelText.Kind(model.Kind)})" : model.Name;
            curve.LineWidth = 2;
            curve.MarkerSize = 5;
            var best = model.Best;
            if (double.IsFinite(best.ValLoss))
            {
                var marker = plot.Add.Marker(best.Epoch, best.ValLoss, MarkerShape.OpenCircle, 14, color);
                marker.LineWidth = 2;
            }
        }
        plot.ShowLegend(Edge.Right);

        using var figure = new Figure(Width, Height);
        figure.Draw(plot, 0, 0, Width, Height);
        figure.SavePng(path);
    }
}
