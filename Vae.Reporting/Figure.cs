using ScottPlot;
using SkiaSharp;

namespace Vae.Reporting;

/// <summary>A PNG canvas on which a picture is composed: a title band, ScottPlot panels in rectangles of their
/// own, and text drawn directly. One canvas per file.</summary>
internal sealed class Figure : IDisposable
{
    private readonly SKSurface surface;

    /// <summary>A white canvas of the given size in pixels.</summary>
    public Figure(int width, int height)
    {
        Width = width;
        Height = height;
        surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
                  ?? throw new InvalidOperationException($"SkiaSharp could not create a {width} × {height} canvas");
        Canvas.Clear(SKColors.White);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The canvas to draw on.</summary>
    public SKCanvas Canvas => surface.Canvas;

    /// <summary>Draws a ScottPlot plot into a rectangle of the canvas.</summary>
    public void Draw(Plot plot, float left, float top, float width, float height)
    {
        Canvas.Save();
        Canvas.ClipRect(new SKRect(left, top, left + width, top + height));
        plot.Render(Canvas, new PixelRect(left, left + width, top + height, top));
        Canvas.Restore();
    }

    /// <summary>Draws one line of text centred on <paramref name="centerX"/> with its baseline at
    /// <paramref name="baseline"/>, shrunk until it fits <paramref name="maxWidth"/>.</summary>
    public void CentredText(string text, float centerX, float baseline, float size, bool bold, float maxWidth, SKColor? color = null)
    {
        using var font = FittedFont(text, size, bold, maxWidth);
        using var paint = new SKPaint { Color = color ?? SKColors.Black, IsAntialias = true };
        Canvas.DrawText(text, centerX, baseline, SKTextAlign.Center, font, paint);
    }

    /// <summary>Draws one line of text starting at <paramref name="left"/>, shrunk until it fits.</summary>
    public void Text(string text, float left, float baseline, float size, bool bold, float maxWidth, SKColor? color = null)
    {
        using var font = FittedFont(text, size, bold, maxWidth);
        using var paint = new SKPaint { Color = color ?? SKColors.Black, IsAntialias = true };
        Canvas.DrawText(text, left, baseline, SKTextAlign.Left, font, paint);
    }

    /// <summary>Draws text turned 90° anticlockwise, centred on a point (a row label read bottom to top).</summary>
    public void VerticalText(string text, float centerX, float centerY, float size, bool bold, float maxHeight)
    {
        Canvas.Save();
        Canvas.RotateDegrees(-90, centerX, centerY);
        CentredText(text, centerX, centerY + size / 3, size, bold, maxHeight);
        Canvas.Restore();
    }

    /// <summary>Writes the canvas as a PNG file, creating its folder.</summary>
    public void SavePng(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var stream = File.Create(path);
        data.SaveTo(stream);
    }

    /// <inheritdoc />
    public void Dispose() => surface.Dispose();

    private static SKFont FittedFont(string text, float size, bool bold, float maxWidth)
    {
        var font = new SKFont(ChartStyle.Typeface(bold), size) { Subpixel = true, Edging = SKFontEdging.Antialias };
        // Hinted advances do not scale linearly with the size: shrink, measure again, until the text fits.
        for (var i = 0; i < 8; i++)
        {
            var width = font.MeasureText(text);
            if (width <= maxWidth || width <= 0 || font.Size <= 6) break;
            font.Size = Math.Max(6, font.Size * maxWidth / width * 0.99f);
        }
        return font;
    }
}
