using System.Globalization;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary>Walks through a model's latent space, decoded: <c>interpolation.png</c> (one row of images along the
/// straight line between the codes of two test images of different classes, the classes named at the ends) and
/// <c>traversal.png</c> (a row per traversed unit, labelled z[i], moved from −3 to +3 standard deviations about the
/// mean code, the columns labelled in standard deviations).</summary>
internal static class LatentWalkPng
{
    private const int Tile = ImageGridPng.Tile;
    private const int Gap = ImageGridPng.Gap;
    private const int Margin = ImageGridPng.Margin;
    private const int TitleBand = ImageGridPng.TitleBand;
    private const int EndLabelBand = 44;
    private const int ColumnLabelBand = 26;
    private const int RowLabelBand = 64;

    /// <summary>Size of <c>interpolation.png</c> for <paramref name="images"/> steps.</summary>
    public static (int Width, int Height) InterpolationSize(int images) =>
        (2 * Margin + images * Tile + (images - 1) * Gap, TitleBand + Tile + EndLabelBand);

    /// <summary>Size of <c>traversal.png</c> for <paramref name="rows"/> units of <paramref name="columns"/> steps.</summary>
    public static (int Width, int Height) TraversalSize(int rows, int columns) =>
        (2 * Margin + RowLabelBand + columns * Tile + (columns - 1) * Gap,
         TitleBand + ColumnLabelBand + rows * Tile + (rows - 1) * Gap + Margin);

    /// <summary>Draws the interpolation of <paramref name="model"/> into <paramref name="path"/>.</summary>
    public static void WriteInterpolation(ModelResult model, string path)
    {
        var images = model.Samples.Interpolation;
        var (from, to) = (model.Samples.InterpolationLabels[0], model.Samples.InterpolationLabels[1]);
        var (width, height) = InterpolationSize(images.Count);
        using var figure = new Figure(width, height);
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 17, true, width - 2 * Margin);
        figure.CentredText(
            $"{images.Count} images decoded along the straight line between the codes of a test {FashionMnistClasses.Names[from]} and a test {FashionMnistClasses.Names[to]}",
            width / 2f, 46, 13, false, width - 2 * Margin);
        for (var i = 0; i < images.Count; i++)
            ImageGridPng.DrawImage(figure.Canvas, images[i], Left(i), TitleBand);

        var baseline = TitleBand + Tile + 26;
        figure.CentredText(FashionMnistClasses.Names[from], Left(0) + Tile / 2f, baseline, 15, true, Tile + Gap);
        figure.CentredText(FashionMnistClasses.Names[to], Left(images.Count - 1) + Tile / 2f, baseline, 15, true, Tile + Gap);
        // An arrow under the images between the two ends: the direction of the walk.
        if (images.Count > 2)
        {
            using var paint = new SKPaint { Color = new SKColor(0x55, 0x55, 0x55), StrokeWidth = 2, IsAntialias = true, IsStroke = true };
            var (start, end, y) = (Left(1) + 8f, Left(images.Count - 1) - 8f, baseline - 5f);
            figure.Canvas.DrawLine(start, y, end, y, paint);
            figure.Canvas.DrawLine(end - 10, y - 6, end, y, paint);
            figure.Canvas.DrawLine(end - 10, y + 6, end, y, paint);
        }
        figure.SavePng(path);
    }

    /// <summary>Draws the traversal of <paramref name="model"/> into <paramref name="path"/>.</summary>
    public static void WriteTraversal(ModelResult model, string path)
    {
        var dimensions = model.Samples.TraversalDimensions;
        var rows = dimensions.Count;
        var columns = model.Samples.Traversal.Count / rows;
        var (width, height) = TraversalSize(rows, columns);
        using var figure = new Figure(width, height);
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 17, true, width - 2 * Margin);
        var units = rows == 1 ? "the most active unit" : $"the {rows} most active units";
        var code = model.Kind == ModelKind.Vae ? "posterior mean" : "code";
        figure.CentredText(
            $"{units} (largest variance of the {code}) moved from −3 to +3 standard deviations about the mean code, the others held at their mean",
            width / 2f, 46, 13, false, width - 2 * Margin);

        var left = Margin + RowLabelBand;
        var top = TitleBand + ColumnLabelBand;
        for (var c = 0; c < columns; c++)
            figure.CentredText(Offset(c, columns), left + c * (Tile + Gap) + Tile / 2f, top - 8, 14, false, Tile);
        for (var r = 0; r < rows; r++)
        {
            var rowTop = top + r * (Tile + Gap);
            figure.CentredText($"z[{dimensions[r]}]", Margin + RowLabelBand / 2f, rowTop + Tile / 2f + 6, 16, true, RowLabelBand - 4);
            for (var c = 0; c < columns; c++)
                ImageGridPng.DrawImage(figure.Canvas, model.Samples.Traversal[r * columns + c], left + c * (Tile + Gap), rowTop);
        }
        figure.SavePng(path);
    }

    /// <summary>The offset of column <paramref name="column"/> of <paramref name="columns"/> evenly spaced from −3 to
    /// +3 standard deviations: "−3σ", "−2.25σ", "0", "+0.75σ".</summary>
    internal static string Offset(int column, int columns)
    {
        var offset = columns == 1 ? 0 : -3 + 6.0 * column / (columns - 1);
        if (Math.Abs(offset) < 1e-9) return "0";
        return (offset < 0 ? "−" : "+") + Math.Abs(offset).ToString("0.##", CultureInfo.InvariantCulture) + "σ";
    }

    private static float Left(int index) => Margin + index * (Tile + Gap);
}
