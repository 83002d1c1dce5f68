using SkiaSharp;

namespace Vae.Reporting;

/// <summary><c>generated.png</c> and <c>generated-fitted.png</c> (3 × 3 images decoded from z ~ N(0, I) and from a
/// Gaussian fitted to the training codes) and <c>reconstruction.png</c> (2 × 9: test images above, reconstructions
/// below): 28 × 28 grey images scaled up four times with square pixels.</summary>
internal static class ImageGridPng
{
    /// <summary>Each image pixel becomes a square of this many pixels.</summary>
    public const int Scale = 4;

    /// <summary>Side of one image in pixels.</summary>
    public const int Tile = 28 * Scale;

    /// <summary>Space between images.</summary>
    public const int Gap = 4;

    /// <summary>White border of every picture.</summary>
    public const int Margin = 16;

    /// <summary>Height of the band for a title and a subtitle.</summary>
    public const int TitleBand = 58;

    private const int RowLabelBand = 40;

    /// <summary>Width of <c>generated.png</c>.</summary>
    public const int GeneratedWidth = 2 * Margin + 3 * Tile + 2 * Gap;

    /// <summary>Height of <c>generated.png</c>.</summary>
    public const int GeneratedHeight = TitleBand + 3 * Tile + 2 * Gap + Margin;

    /// <summary>Width of <c>reconstruction.png</c>.</summary>
    public const int ReconstructionWidth = 2 * Margin + RowLabelBand + 9 * Tile + 8 * Gap;

    /// <summary>Height of <c>reconstruction.png</c>.</summary>
    public const int ReconstructionHeight = TitleBand + 2 * Tile + Gap + Margin;

    /// <summary>Draws the nine images <paramref name="model"/> generated from z ~ N(0, I), three by three.</summary>
    public static void WriteGenerated(ModelResult model, string path) =>
        WriteThreeByThree(model, model.Samples.Generated, "decoded from z ~ N(0, I)", path);

    /// <summary>Draws the nine images <paramref name="model"/> generated from a Gaussian fitted to its training
    /// codes, three by three, the same size as <c>generated.png</c> so that the two sit side by side.</summary>
    public static void WriteGeneratedFitted(ModelResult model, string path) =>
        WriteThreeByThree(model, model.Samples.GeneratedFitted, "from a Gaussian fitted to the training codes", path);

    private static void WriteThreeByThree(ModelResult model, IReadOnlyList<float[]> images, string subtitle, string path)
    {
        using var figure = new Figure(GeneratedWidth, GeneratedHeight);
        var textWidth = GeneratedWidth - 2 * Margin;
        figure.CentredText(ModelText.Title(model), GeneratedWidth / 2f, 24, 15, true, textWidth);
        figure.CentredText(subtitle, GeneratedWidth / 2f, 46, 13, false, textWidth);
        for (var i = 0; i < 9; i++)
            DrawImage(figure.Canvas, images[i], Margin + i % 3 * (Tile + Gap), TitleBand + i / 3 * (Tile + Gap));
        figure.SavePng(path);
    }

    /// <summary>Draws the nine test images of <paramref name="model"/>'s run above its reconstructions of them.</summary>
    public static void WriteReconstruction(ModelResult model, string path)
    {
        using var figure = new Figure(ReconstructionWidth, ReconstructionHeight);
        figure.CentredText(ModelText.Title(model), ReconstructionWidth / 2f, 24, 17, true, ReconstructionWidth - 2 * Margin);
        figure.CentredText("test images (top) and their reconstructions (bottom)", ReconstructionWidth / 2f, 46, 13, false,
            ReconstructionWidth - 2 * Margin);
        var left = Margin + RowLabelBand;
        figure.VerticalText("original", Margin + RowLabelBand / 2f, TitleBand + Tile / 2f, 14, true, Tile);
        figure.VerticalText("reconstruction", Margin + RowLabelBand / 2f, TitleBand + Tile + Gap + Tile / 2f, 14, true, Tile);
        for (var i = 0; i < 9; i++)
        {
            DrawImage(figure.Canvas, model.Samples.Originals[i], left + i * (Tile + Gap), TitleBand);
            DrawImage(figure.Canvas, model.Samples.Reconstructions[i], left + i * (Tile + Gap), TitleBand + Tile + Gap);
        }
        figure.SavePng(path);
    }

    /// <summary>One image: values in [0, 1] (clamped; NaN drawn black), row-major, white on black as the data set
    /// stores them.</summary>
    public static void DrawImage(SKCanvas canvas, float[] pixels, float left, float top)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
        var bytes = new byte[28 * 28];
        for (var i = 0; i < bytes.Length; i++)
        {
            var v = pixels[i];
            bytes[i] = float.IsNaN(v) ? (byte)0 : (byte)Math.Round(255 * Math.Clamp(v, 0f, 1f));
        }
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        using var image = SKImage.FromBitmap(bitmap);
        canvas.DrawImage(image, new SKRect(left, top, left + Tile, top + Tile), new SKSamplingOptions(SKFilterMode.Nearest));
    }
}
