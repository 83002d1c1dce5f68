using SkiaSharp;

namespace Vae.Reporting;

/// <summary>Grids of images: the report's <c>generated.png</c> and <c>generated-fitted.png</c> (3 × 3 images decoded
/// from z ~ N(0, I) and from a Gaussian fitted to the training codes) and <c>reconstruction.png</c> (2 × 9: test images
/// above, reconstructions below), and grids of any size for a checkpoint's samples and reconstructions (the runner's
/// <c>sample</c> and <c>reconstruct</c>): grey images scaled up with square pixels (<see cref="ImageTiles"/>:
/// Fashion-MNIST's 28 × 28 four times).</summary>
public static class ImageGridPng
{
    /// <summary>Space between images.</summary>
    public const int Gap = 4;

    /// <summary>White border of every picture.</summary>
    public const int Margin = 16;

    /// <summary>Height of the band for a title and a subtitle.</summary>
    public const int TitleBand = 58;

    /// <summary>The most images of a row of <see cref="WritePairs"/>.</summary>
    public const int PairColumns = 10;

    private const int RowLabelBand = 40;

    /// <summary>Space between two pairs of rows (originals above reconstructions), wider than <see cref="Gap"/> so
    /// that the pairs read apart.</summary>
    private const int PairGap = 3 * Gap;

    /// <summary>Size of <c>generated.png</c> and <c>generated-fitted.png</c> (376 × 418 for 28 × 28 images).</summary>
    internal static (int Width, int Height) GeneratedSize(ImageTiles tiles) => GridSize(tiles, 3, 3);

    /// <summary>Size of <c>reconstruction.png</c> (1112 × 302 for 28 × 28 images).</summary>
    internal static (int Width, int Height) ReconstructionSize(ImageTiles tiles) => PairsSize(tiles, 9, 1);

    private static (int Width, int Height) GridSize(ImageTiles tiles, int columns, int rows) =>
        (2 * Margin + columns * tiles.TileWidth + (columns - 1) * Gap, TitleBand + rows * tiles.TileHeight + (rows - 1) * Gap + Margin);

    private static (int Width, int Height) PairsSize(ImageTiles tiles, int columns, int pairs) =>
        (2 * Margin + RowLabelBand + columns * tiles.TileWidth + (columns - 1) * Gap,
         TitleBand + pairs * (2 * tiles.TileHeight + Gap) + (pairs - 1) * PairGap + Margin);

    /// <summary>Draws the nine images <paramref name="model"/> generated from z ~ N(0, I), three by three.</summary>
    internal static void WriteGenerated(ModelResult model, DataSetResult data, string path) =>
        DrawGrid(ImageTiles.Of(data), model.Samples.Generated.Take(9).ToArray(), 3, ModelText.Title(model), "decoded from z ~ N(0, I)", path);

    /// <summary>Draws the nine images <paramref name="model"/> generated from a Gaussian fitted to its training
    /// codes, three by three, the same size as <c>generated.png</c> so that the two sit side by side.</summary>
    internal static void WriteGeneratedFitted(ModelResult model, DataSetResult data, string path) =>
        DrawGrid(ImageTiles.Of(data), model.Samples.GeneratedFitted.Take(9).ToArray(), 3, ModelText.Title(model), "from a Gaussian fitted to the training codes", path);

    /// <summary>Draws the nine test images of <paramref name="model"/>'s experiment above its reconstructions of them.</summary>
    internal static void WriteReconstruction(ModelResult model, DataSetResult data, string path) =>
        DrawPairs(ImageTiles.Of(data), model.Samples.Originals.Take(9).ToArray(), model.Samples.Reconstructions.Take(9).ToArray(), 9,
            ModelText.Title(model), "test images (top) and their reconstructions (bottom)", path);

    /// <summary>Draws <paramref name="images"/> (each <paramref name="height"/> × <paramref name="width"/> values in [0, 1],
    /// row by row) in rows of about the square root of their number, under a title and a subtitle, as the report draws
    /// generated images (nine make its 3 × 3 picture), and writes the PNG.</summary>
    /// <returns>The picture's size in pixels.</returns>
    public static (int Width, int Height) WriteGrid(IReadOnlyList<float[]> images, int height, int width, string title, string subtitle, string path)
    {
        var tiles = TilesOf(height, width, images);
        var columns = (int)Math.Ceiling(Math.Sqrt(images.Count));
        return DrawGrid(tiles, images, columns, title, subtitle, path);
    }

    /// <summary>Draws <paramref name="originals"/> above <paramref name="reconstructions"/> (each <paramref name="height"/> ×
    /// <paramref name="width"/> values in [0, 1], row by row), <see cref="PairColumns"/> to a row, under a title and a
    /// subtitle, as the report draws its reconstructions (nine make its picture), and writes the PNG.</summary>
    /// <returns>The picture's size in pixels.</returns>
    public static (int Width, int Height) WritePairs(IReadOnlyList<float[]> originals, IReadOnlyList<float[]> reconstructions, int height, int width,
        string title, string subtitle, string path)
    {
        if (reconstructions.Count != originals.Count)
            throw new ArgumentException($"{reconstructions.Count} reconstructions of {originals.Count} images", nameof(reconstructions));
        var tiles = TilesOf(height, width, originals.Concat(reconstructions).ToArray());
        return DrawPairs(tiles, originals, reconstructions, Math.Min(originals.Count, PairColumns), title, subtitle, path);
    }

    private static ImageTiles TilesOf(int height, int width, IReadOnlyList<float[]> images)
    {
        if (height < 1 || width < 1) throw new ArgumentOutOfRangeException(nameof(height), $"images of {height} × {width} pixels");
        if (images.Count == 0) throw new ArgumentException("no images to draw", nameof(images));
        if (images.FirstOrDefault(i => i.Length != height * width) is { } wrong)
            throw new ArgumentException($"an image of {wrong.Length} values, not {height} × {width}", nameof(images));
        return ImageTiles.Of(height, width);
    }

    private static (int Width, int Height) DrawGrid(ImageTiles tiles, IReadOnlyList<float[]> images, int columns, string title, string subtitle, string path)
    {
        var rows = (images.Count + columns - 1) / columns;
        var (width, height) = GridSize(tiles, columns, rows);
        using var figure = new Figure(width, height);
        var textWidth = width - 2 * Margin;
        figure.CentredText(title, width / 2f, 24, 15, true, textWidth);
        figure.CentredText(subtitle, width / 2f, 46, 13, false, textWidth);
        for (var i = 0; i < images.Count; i++)
            DrawImage(figure.Canvas, images[i], tiles, Margin + i % columns * (tiles.TileWidth + Gap), TitleBand + i / columns * (tiles.TileHeight + Gap));
        figure.SavePng(path);
        return (width, height);
    }

    private static (int Width, int Height) DrawPairs(ImageTiles tiles, IReadOnlyList<float[]> originals, IReadOnlyList<float[]> reconstructions, int columns,
        string title, string subtitle, string path)
    {
        var pairs = (originals.Count + columns - 1) / columns;
        var (width, height) = PairsSize(tiles, columns, pairs);
        using var figure = new Figure(width, height);
        figure.CentredText(title, width / 2f, 24, 17, true, width - 2 * Margin);
        figure.CentredText(subtitle, width / 2f, 46, 13, false, width - 2 * Margin);
        var left = Margin + RowLabelBand;
        for (var pair = 0; pair < pairs; pair++)
        {
            var top = TitleBand + pair * (2 * tiles.TileHeight + Gap + PairGap);
            figure.VerticalText("original", Margin + RowLabelBand / 2f, top + tiles.TileHeight / 2f, 14, true, tiles.TileHeight);
            figure.VerticalText("reconstruction", Margin + RowLabelBand / 2f, top + tiles.TileHeight + Gap + tiles.TileHeight / 2f, 14, true, tiles.TileHeight);
        }
        for (var i = 0; i < originals.Count; i++)
        {
            var x = left + i % columns * (tiles.TileWidth + Gap);
            var top = TitleBand + i / columns * (2 * tiles.TileHeight + Gap + PairGap);
            DrawImage(figure.Canvas, originals[i], tiles, x, top);
            DrawImage(figure.Canvas, reconstructions[i], tiles, x, top + tiles.TileHeight + Gap);
        }
        figure.SavePng(path);
        return (width, height);
    }

    /// <summary>One image: values in [0, 1] (clamped; NaN drawn black), row-major, white on black as the data set
    /// stores them.</summary>
    internal static void DrawImage(SKCanvas canvas, float[] pixels, ImageTiles tiles, float left, float top)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(tiles.Width, tiles.Height, SKColorType.Gray8, SKAlphaType.Opaque));
        var bytes = new byte[tiles.Width * tiles.Height];
        for (var i = 0; i < bytes.Length; i++)
        {
            var v = pixels[i];
            bytes[i] = float.IsNaN(v) ? (byte)0 : (byte)Math.Round(255 * Math.Clamp(v, 0f, 1f));
        }
        // Gray8 rows are padded to the bitmap's row stride: copied row by row.
        for (var row = 0; row < tiles.Height; row++)
            System.Runtime.InteropServices.Marshal.Copy(bytes, row * tiles.Width, bitmap.GetPixels() + row * bitmap.RowBytes, tiles.Width);
        using var image = SKImage.FromBitmap(bitmap);
        canvas.DrawImage(image, new SKRect(left, top, left + tiles.TileWidth, top + tiles.TileHeight), new SKSamplingOptions(SKFilterMode.Nearest));
    }
}
