using ScottPlot;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary><c>latent-space.png</c>: each model's test codes on their first two principal components, coloured by
/// class, one panel per model, and one legend of class names in the last cell.</summary>
internal static class LatentSpacePng
{
    /// <summary>Width of one panel in pixels.</summary>
    public const int CellWidth = 420;

    /// <summary>Height of one panel in pixels.</summary>
    public const int CellHeight = 400;

    /// <summary>Height of the band holding the figure's title.</summary>
    public const int TitleBand = 48;

    // Each class is drawn in this many interleaved slices, so that no class is painted entirely over the others.
    private const int Slices = 4;

    /// <summary>Columns and rows of the grid for <paramref name="models"/> panels plus the legend cell.</summary>
    public static (int Columns, int Rows) Grid(int models)
    {
        var cells = models + 1;
        var columns = cells <= 4 ? cells : cells <= 6 ? 3 : 4;
        return (columns, (cells + columns - 1) / columns);
    }

    /// <summary>Draws the picture of <paramref name="experiment"/> into <paramref name="path"/>.</summary>
    public static void Write(ExperimentResult experiment, string path)
    {
        var (columns, rows) = Grid(experiment.Models.Count);
        var (width, height) = (columns * CellWidth, TitleBand + rows * CellHeight);
        using var figure = new Figure(width, height);
        figure.CentredText($"{experiment.Experiment}: test images' codes on their first two principal components (each panel on its own scale)",
            width / 2f, 32, 19, true, width - 40);

        for (var i = 0; i < experiment.Models.Count; i++)
        {
            using var plot = Panel(experiment.Models[i], experiment.Data);
            figure.Draw(plot, i % columns * CellWidth, TitleBand + i / columns * CellHeight, CellWidth, CellHeight);
        }
        var legend = experiment.Models.Count;
        DrawLegend(figure, experiment.Data, legend % columns * CellWidth, TitleBand + legend / columns * CellHeight);
        figure.SavePng(path);
    }

    private static Plot Panel(ModelResult model, DataSetResult data)
    {
        // The scale in the title: a VAE's codes lie near ±3 (its prior), an autoencoder's wherever training put them.
        var extent = model.Samples.LatentX.Concat(model.Samples.LatentY).Select(v => Math.Abs((double)v)).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        var plot = ChartStyle.NewPlot($"{model.Name} (codes within ±{Numbers.Fixed(extent, 1)})\n{ModelText.Architecture(model)}", "PC 1", "PC 2");
        plot.Axes.Title.Label.FontSize = 14;
        var samples = model.Samples;
        var classes = data.Classes.Count;
        var byClass = Enumerable.Range(0, classes)
            .Select(c => Enumerable.Range(0, samples.LatentLabels.Count).Where(i => samples.LatentLabels[i] == c).ToArray())
            .ToArray();
        for (var slice = 0; slice < Slices; slice++)
            for (var c = 0; c < classes; c++)
            {
                var indices = byClass[c].Where((_, k) => k % Slices == slice).ToArray();
                if (indices.Length == 0) continue;
                var xs = indices.Select(i => (double)samples.LatentX[i]).ToArray();
                var ys = indices.Select(i => (double)samples.LatentY[i]).ToArray();
                plot.Add.Markers(xs, ys, MarkerShape.FilledCircle, 2.5f, ChartStyle.ClassColors[c].WithAlpha(0.55));
            }
        return plot;
    }

    private static void DrawLegend(Figure figure, DataSetResult data, float left, float top)
    {
        var x = left + 40;
        var y = top + 70f;
        figure.Text("class", x, y, 16, true, CellWidth - 60);
        using var paint = new SKPaint { IsAntialias = true };
        for (var c = 0; c < data.Classes.Count; c++)
        {
            y += 28;
            paint.Color = ChartStyle.ClassColors[c].ToSKColor();
            figure.Canvas.DrawCircle(x + 7, y - 5, 7, paint);
            figure.Text(data.ClassLabel(c), x + 24, y, 15, false, CellWidth - 90);
        }
    }
}
