using ScottPlot;

namespace Vae.Reporting;

/// <summary><c>loss.png</c>: a model's reconstruction and KL per epoch, training and validation, the best epoch
/// marked. Reconstruction (~250 nats) and KL (~10) get a panel each, since on one axis KL would be a flat line.</summary>
internal static class LossCurvesPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 900;

    /// <summary>Height in pixels.</summary>
    public const int Height = 700;

    private const int TitleBand = 46;

    /// <summary>Draws the picture of <paramref name="model"/> into <paramref name="path"/>.</summary>
    public static void Write(ModelResult model, string path)
    {
        using var figure = new Figure(Width, Height);
        figure.CentredText(ModelText.Title(model), Width / 2f, 31, 19, true, Width - 40);

        var epochs = model.Epochs.OrderBy(e => e.Epoch).ToList();
        var x = epochs.Select(e => (double)e.Epoch).ToArray();
        if (model.Kind.HasPosterior())
        {
            var half = (Height - TitleBand) / 2f;
            using var reconstruction = Panel("Reconstruction (binary cross-entropy)", x,
                epochs.Select(e => e.TrainRecon).ToArray(), epochs.Select(e => e.ValRecon).ToArray(), model.BestEpoch);
            using var kl = Panel("KL divergence", x,
                epochs.Select(e => e.TrainKl).ToArray(), epochs.Select(e => e.ValKl).ToArray(), model.BestEpoch);
            figure.Draw(reconstruction, 0, TitleBand, Width, half);
            figure.Draw(kl, 0, TitleBand + half, Width, half);
        }
        else
        {
            using var reconstruction = Panel("Reconstruction (binary cross-entropy); an autoencoder has no KL term", x,
                epochs.Select(e => e.TrainRecon).ToArray(), epochs.Select(e => e.ValRecon).ToArray(), model.BestEpoch);
            figure.Draw(reconstruction, 0, TitleBand, Width, Height - TitleBand);
        }
        figure.SavePng(path);
    }

    private static Plot Panel(string title, double[] epochs, double[] training, double[] validation, int bestEpoch)
    {
        var plot = ChartStyle.NewPlot(title, "epoch", ChartStyle.LossUnit);
        ChartStyle.EpochAxis(plot, epochs.Select(e => (int)e));
        // The same room for tick labels in both panels keeps their epoch axes aligned.
        plot.Axes.Left.MinimumSize = 70;

        var best = plot.Add.VerticalLine(bestEpoch, 1.5f, ChartStyle.BestEpoch, LinePattern.Dashed);
        best.LegendText = $"best epoch ({bestEpoch})";

        Curve(plot, epochs, training, ChartStyle.Training, "training");
        Curve(plot, epochs, validation, ChartStyle.Validation, "validation");

        var index = Array.IndexOf(epochs, (double)bestEpoch);
        if (index >= 0 && double.IsFinite(validation[index]))
        {
            var marker = plot.Add.Marker(bestEpoch, validation[index], MarkerShape.OpenCircle, 13, ChartStyle.Validation);
            marker.LineWidth = 2;
        }

        // Outside the frame: inside it the legend would hide the curves' last epochs, where they matter most.
        plot.ShowLegend(Edge.Right);
        return plot;
    }

    private static void Curve(Plot plot, double[] x, double[] y, Color color, string label)
    {
        var curve = plot.Add.Scatter(x, y, color);
        curve.LegendText = label;
        curve.LineWidth = 2;
        curve.MarkerSize = 6;
    }
}
