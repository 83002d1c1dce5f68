using ScottPlot;
using ScottPlot.TickGenerators;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary>What every picture shares: the font, the colours and the axis labels.</summary>
internal static class ChartStyle
{
    /// <summary>DejaVu Sans when installed (Debian's fonts-dejavu-core), else ScottPlot's sans-serif choice.</summary>
    public static readonly string FontName =
        Fonts.GetTypeface("DejaVu Sans", false, false) is { FamilyName: "DejaVu Sans" } ? "DejaVu Sans" : Fonts.Sans;

    /// <summary>The unit of every loss: the seed study sums binary cross-entropy over pixels and averages over images.</summary>
    public const string LossUnit = "nats per image";

    /// <summary>Colours of the ten classes (matplotlib's tab10, the usual choice for ten categories).</summary>
    public static readonly IReadOnlyList<Color> ClassColors = new ScottPlot.Palettes.Category10().Colors;

    /// <summary>Training curves.</summary>
    public static readonly Color Training = Color.FromHex("#1f77b4");

    /// <summary>Validation curves.</summary>
    public static readonly Color Validation = Color.FromHex("#ff7f0e");

    /// <summary>The best epoch's marker line.</summary>
    public static readonly Color BestEpoch = Color.FromHex("#555555");

    /// <summary>The highlighted (best) bar.</summary>
    public static readonly Color Highlight = Color.FromHex("#d62728");

    /// <summary>The other bars.</summary>
    public static readonly Color Plain = Color.FromHex("#7f9fbf");

    /// <summary>Colours of the models of an experiment (up to seven; more cycle), in definition order.</summary>
    public static Color ModelColor(int index) => ModelColors[index % ModelColors.Length];

    private static readonly Color[] ModelColors =
        Color.FromHex(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]);

    /// <summary>A plot in the report's font, with its panel title and axis labels.</summary>
    public static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        plot.Title(title, 15);
        plot.XLabel(xLabel, 13);
        plot.YLabel(yLabel, 13);
        return plot;
    }

    /// <summary>Ticks at whole epochs only, and a third of an epoch of room either side, so that the markers of the
    /// first and last epochs are not cut by the frame (and a single epoch still has a range).</summary>
    public static void EpochAxis(Plot plot, IEnumerable<int> epochs)
    {
        plot.Axes.Bottom.TickGenerator = new NumericAutomatic { IntegerTicksOnly = true };
        var all = epochs.DefaultIfEmpty(1).ToList();
        plot.Axes.SetLimitsX(all.Min() - 0.35, all.Max() + 0.35);
    }

    /// <summary>The typeface for text drawn directly with SkiaSharp.</summary>
    public static SKTypeface Typeface(bool bold) => Fonts.GetTypeface(FontName, bold, false);
}
