using SkiaSharp;

namespace Vae.Reporting;

/// <summary><c>generated.png</c> and <c>generated-fitted.png</c> (3 × 3 images decoded from z ~ N(0, I) and from a
/// Gaussian fitted to the training codes) and <c>reconstruction.png</c> (2 × 9: test images above, reconstructions
/// below): grey images scaled up with square pixels (<see cref="ImageTiles"/>: Fashion-MNIST's 28 × 28 four times).</summary>
internal static class ImageGridPng
{
    /// <summary>Space between images.</summary>
    public const int Gap = 4;

    /// <summary>White border of every picture.</summary>
    public const int Margin = 16;

    /// <summary>Height of the band for a title and a subtitle.</summary>
    public const int TitleBand = 58;

    private const int RowLabelBand = 40;

    /// <summary>Size of <c>generated.png</c> and <c>generated-fitted.png</c> (376 × 418 for 28 × 28 images).</summary>
    public static (int Width, int Height) GeneratedSize(ImageTiles tiles) =>
        (2 * Margin + 3 * tiles.TileWidth + 2 * Gap, TitleBand + 3 * tiles.TileHeight + 2 * Gap + Margin);

    /// <summary>Size of <c>reconstruction.png</c> (1112 × 302 for 28 × 28 images).</summary>
    public static (int Width, int Height) ReconstructionSize(ImageTiles tiles) =>
        (2 * Margin + RowLabelBand + 9 * tiles.TileWidth + 8 * Gap, TitleBand + 2 * tiles.TileHeight + Gap + Margin);

    /// <summary>Draws the nine images <paramref name="model"/> generated from z ~ N(0, I), three by three.</summary>
    public static void WriteGenerated(ModelResult model, DataSetResult data, string path) =>
        WriteThreeByThree(model, ImageTiles.Of(data), model.Samples.Generated, "decoded from z ~ N(0, I)", path);

    /// <summary>Draws the nine images <paramref name="model"/> generated from a Gaussian fitted to its training
    /// codes, three by three, the same size as <c>generated.png</c> so that the two sit side by side.</summary>
    public static void WriteGeneratedFitted(ModelResult model, DataSetResult data, string path) =>
        WriteThreeByThree(model, ImageTiles.Of(data), model.Samples.GeneratedFitted, "from a Gaussian fitted to the training codes", path);

    private static void WriteThreeByThree(ModelResult model, ImageTiles tiles, IReadOnlyList<float[]> images, string subtitle, string path)
    {
        var (width, height) = GeneratedSize(tiles);
        using var figure = new Figure(width, height);
        var textWidth = width - 2 * Margin;
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 15, true, textWidth);
        figure.CentredText(subtitle, width / 2f, 46, 13, false, textWidth);
        for (var i = 0; i < 9; i++)
            DrawImage(figure.Canvas, images[i], tiles, Margin + i % 3 * (tiles.TileWidth + Gap), TitleBand + i / 3 * (tiles.TileHeight + Gap));
        figure.SavePng(path);
    }

    /// <summary>Draws the nine test images of <paramref name="model"/>'s experiment above its reconstructions of them.</summary>
    public static void WriteReconstruction(ModelResult model, DataSetResult data, string path)
    {
        var tiles = ImageTiles.Of(data);
        var (width, height) = ReconstructionSize(tiles);
        using var figure = new Figure(width, height);
        figure.CentredText(ModelText.Title(model), width / 2f, 24, 17, true, width - 2 * Margin);
        figure.CentredText("test images (top) and their reconstructions (bottom)", width / 2f, 46, 13, false, width - 2 * Margin);
        var left = Margin + RowLabelBand;
        figure.VerticalText("original", Margin + RowLabelBand / 2f, TitleBand + tiles.TileHeight / 2f, 14, true, tiles.TileHeight);
        figure.VerticalText("reconstruction", Margin + RowLabelBand / 2f, TitleBand + tiles.TileHeight + Gap + tiles.TileHeight / 2f, 14, true, tiles.TileHeight);
        for (var i = 0; i < 9; i++)
        {
            DrawImage(figure.Canvas, model.Samples.Originals[i], tiles, left + i * (tiles.TileWidth + Gap), TitleBand);
            DrawImage(figure.Canvas, model.Samples.Reconstructions[i], tiles, left + i * (tiles.TileWidth + Gap), TitleBand + tiles.TileHeight + Gap);
        }
        figure.SavePng(path);
    }

    /// <summary>One image: values in [0, 1] (clamped; NaN drawn black), row-major, white on black as the data set
    /// stores them.</summary>
    public static void DrawImage(SKCanvas canvas, float[] pixels, ImageTiles tiles, float left, float top)
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
