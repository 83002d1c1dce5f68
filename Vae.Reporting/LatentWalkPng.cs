using System.Globalization;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary>Walks through a model's latent space, decoded: <c>interpolation.png</c> (one row of images along the
/// straight line between the codes of two test images of different classes, the classes named at the ends) and
/// <c>traversal.png</c> (a row per traversed unit, labelled z[i], moved from −3 to +3 standard deviations about the
/// mean code, the columns labelled in standard deviations).</summary>
internal static class LatentWalkPng
{
    private const int Gap = ImageGridPng.Gap;
    private const int Margin = ImageGridPng.Margin;
    private const int TitleBand = ImageGridPng.TitleBand;
    private const int EndLabelBand = 44;
    private const int ColumnLabelBand = 26;
    private const int RowLabelBand = 64;

    /// <summary>Size of <c>interpolation.png</c> for <paramref name="images"/> steps (1188 × 214 for ten 28 × 28 images).</summary>
    public static (int Width, int Height) InterpolationSize(ImageTiles tiles, int images) =>
        (2 * Margin + images * tiles.TileWidth + (images - 1) * Gap, TitleBand + tiles.TileHeight + EndLabelBand);

    /// <summary>Size of <c>traversal.png</c> for <paramref name="rows"/> units of <paramref name="columns"/> steps.</summary>
    public static (int Width, int Height) TraversalSize(ImageTiles tiles, int rows, int columns) =>
        (2 * Margin + RowLabelBand + columns * tiles.TileWidth + (columns - 1) * Gap,
         TitleBand + ColumnLabelBand + rows * tiles.TileHeight + (rows - 1) * Gap + Margin);

    /// <summary>Draws the interpolation of <paramref name="model"/> (images and class names of <paramref name="data"/>)
    /// into <paramref name="path"/>.</summary>
    public static void WriteInterpolation(ModelResult model, DataSetResult data, string path)
    {
        var tiles = ImageTiles.Of(data);
        var images = model.Samples.Interpolation;
        var (from, to) = (data.Classes[model.Samples.InterpolationLabels[0]], data.Classes[model.Samples.InterpolationLabels[1]]);
        var (width, height) = InterpolationSize(tiles, images.Count);
        using var figure = new Figure(width, height);
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 17, true, width - 2 * Margin);
        figure.CentredText(
            $"{images.Count} images decoded along the straight line between the codes of a test {from} and a test {to}",
            width / 2f, 46, 13, false, width - 2 * Margin);
        for (var i = 0; i < images.Count; i++)
            ImageGridPng.DrawImage(figure.Canvas, images[i], tiles, Left(tiles, i), TitleBand);

        var baseline = TitleBand + tiles.TileHeight + 26;
        figure.CentredText(from, Left(tiles, 0) + tiles.TileWidth / 2f, baseline, 15, true, tiles.TileWidth + Gap);
        figure.CentredText(to, Left(tiles, images.Count - 1) + tiles.TileWidth / 2f, baseline, 15, true, tiles.TileWidth + Gap);
        // An arrow under the images between the two ends: the direction of the walk.
        if (images.Count > 2)
        {
            using var paint = new SKPaint { Color = new SKColor(0x55, 0x55, 0x55), StrokeWidth = 2, IsAntialias = true, IsStroke = true };
            var (start, end, y) = (Left(tiles, 1) + 8f, Left(tiles, images.Count - 1) - 8f, baseline - 5f);
            figure.Canvas.DrawLine(start, y, end, y, paint);
            figure.Canvas.DrawLine(end - 10, y - 6, end, y, paint);
            figure.Canvas.DrawLine(end - 10, y + 6, end, y, paint);
        }
        figure.SavePng(path);
    }

    /// <summary>Draws the traversal of <paramref name="model"/> (images of <paramref name="data"/>) into <paramref name="path"/>.</summary>
    public static void WriteTraversal(ModelResult model, DataSetResult data, string path)
    {
        var tiles = ImageTiles.Of(data);
        var (tileWidth, tileHeight) = (tiles.TileWidth, tiles.TileHeight);
        var dimensions = model.Samples.TraversalDimensions;
        var rows = dimensions.Count;
        var columns = model.Samples.Traversal.Count / rows;
        var (width, height) = TraversalSize(tiles, rows, columns);
        using var figure = new Figure(width, height);
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 17, true, width - 2 * Margin);
        var units = rows == 1 ? "the most active unit" : $"the {rows} most active units";
        var code = model.Kind.HasPosterior() ? "posterior mean" : "code";
        figure.CentredText(
            $"{units} (largest variance of the {code}) moved from −3 to +3 standard deviations about the mean code, the others held at their mean",
            width / 2f, 46, 13, false, width - 2 * Margin);

        var left = Margin + RowLabelBand;
        var top = TitleBand + ColumnLabelBand;
        for (var c = 0; c < columns; c++)
            figure.CentredText(Offset(c, columns), left + c * (tileWidth + Gap) + tileWidth / 2f, top - 8, 14, false, tileWidth);
        for (var r = 0; r < rows; r++)
        {
            var rowTop = top + r * (tileHeight + Gap);
            figure.CentredText($"z[{dimensions[r]}]", Margin + RowLabelBand / 2f, rowTop + tileHeight / 2f + 6, 16, true, RowLabelBand - 4);
            for (var c = 0; c < columns; c++)
                ImageGridPng.DrawImage(figure.Canvas, model.Samples.Traversal[r * columns + c], tiles, left + c * (tileWidth + Gap), rowTop);
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

    private static float Left(ImageTiles tiles, int index) => Margin + index * (tiles.TileWidth + Gap);
}
