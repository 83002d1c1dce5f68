using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary><c>kl-per-dim.png</c>: a VAE's mean KL divergence on the test set of each latent dimension, one bar per
/// dimension in dimension order (so that bar i is z[i] of <c>traversal.png</c>), the two traversed dimensions in red,
/// the active units counted in the title. An autoencoder has no KL term: its picture says so.</summary>
internal static class KlPerDimensionPng
{
    /// <summary>Width in pixels.</summary>
    public const int Width = 900;

    /// <summary>Height in pixels.</summary>
    public const int Height = 480;

    private const int TitleBand = 62;

    /// <summary>The second line of the title: the order of the bars, the active units, the total; the first
    /// repeat's numbers.</summary>
    public static string Subtitle(ModelResult model)
    {
        var repeat = RepeatSummaries.Repeated(model) ? "; first repeat" : "";
        return model.Kind.HasPosterior()
            ? $"in dimension order; {model.ActiveUnits} of {model.Latent} units active (posterior-mean variance above 0.01); "
              + $"total {Numbers.Nats(model.KlPerDim.Sum())} nats per image{repeat}"
            : $"{model.ActiveUnits} of {model.Latent} units active (code variance above 0.01){repeat}";
    }

    /// <summary>Draws the picture of <paramref name="model"/> into <paramref name="path"/>.</summary>
    public static void Write(ModelResult model, string path)
    {
        using var figure = new Figure(Width, Height);
        figure.CentredText(
            model.Kind.HasPosterior() ? $"{ModelText.Title(model)}: KL divergence per latent dimension (test set)" : $"{ModelText.Title(model)}: latent usage (test set)",
            Width / 2f, 28, 17, true, Width - 40);
        figure.CentredText(Subtitle(model), Width / 2f, 50, 13, false, Width - 40);
        if (model.Kind.HasPosterior())
        {
            using var plot = Chart(model);
            figure.Draw(plot, 0, TitleBand, Width, Height - TitleBand);
        }
        else
        {
            using var frame = new SKPaint { Color = new SKColor(0xcc, 0xcc, 0xcc), IsStroke = true, StrokeWidth = 2, IsAntialias = true };
            figure.Canvas.DrawRect(new SKRect(60, TitleBand + 30, Width - 60, Height - 40), frame);
            var middle = (TitleBand + Height) / 2f;
            figure.CentredText("An autoencoder has no KL term:", Width / 2f, middle - 14, 20, true, Width - 160);
            figure.CentredText("there is no KL divergence per dimension to draw.", Width / 2f, middle + 18, 20, false, Width - 160);
            figure.CentredText("Its latent usage is the count of active units above.", Width / 2f, middle + 52, 15, false, Width - 160,
                new SKColor(0x55, 0x55, 0x55));
        }
        figure.SavePng(path);
    }

    private static Plot Chart(ModelResult model)
    {
        var plot = ChartStyle.NewPlot("", "latent dimension i of z[i]", $"KL divergence ({ChartStyle.LossUnit})");
        var traversed = model.Samples.TraversalDimensions.ToHashSet();
        Bar BarOf(int d) => new()
        {
            Position = d,
            Value = Numbers.Finite(model.KlPerDim[d]) ? model.KlPerDim[d] : 0,
            FillColor = traversed.Contains(d) ? ChartStyle.Highlight : ChartStyle.Plain,
            LineWidth = 0,
            Size = 0.8,
        };
        var dimensions = Enumerable.Range(0, model.KlPerDim.Count).ToList();
        var others = plot.Add.Bars(dimensions.Where(d => !traversed.Contains(d)).Select(BarOf).ToList());
        others.LegendText = "other dimensions";
        if (traversed.Count > 0)
        {
            var shown = plot.Add.Bars(dimensions.Where(traversed.Contains).Select(BarOf).ToList());
            shown.LegendText = "traversed in traversal.png";
        }
        plot.Axes.Bottom.TickGenerator = new NumericAutomatic { IntegerTicksOnly = true };
        var top = model.KlPerDim.Where(Numbers.Finite).DefaultIfEmpty(0).Max();
        // Bars start at zero; a collapsed posterior (every KL near 0) still gets an axis.
        plot.Axes.SetLimits(-0.7, model.KlPerDim.Count - 0.3, 0, top > 0 ? top * 1.15 : 1);
        // Outside the frame: inside it the legend would hide the bars of the last dimensions.
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
