namespace Vae.Reporting;

/// <summary>How a data set's images are drawn in the pictures: each image pixel a square of <see cref="Scale"/> pixels,
/// chosen so that an image is about <see cref="Target"/> pixels on its longer side whatever its size (Fashion-MNIST's
/// 28 × 28 four times over; 12 × 12 nine times).</summary>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Scale">Picture pixels per image pixel, across and down.</param>
internal readonly record struct ImageTiles(int Height, int Width, int Scale)
{
    /// <summary>The longer side of a drawn image, in picture pixels, at most (an image larger than this is drawn one to one).</summary>
    public const int Target = 112;

    /// <summary>The tiles of <paramref name="data"/>'s images.</summary>
    public static ImageTiles Of(DataSetResult data) => Of(data.Height, data.Width);

    /// <summary>The tiles of images of <paramref name="height"/> × <paramref name="width"/> pixels.</summary>
    public static ImageTiles Of(int height, int width) => new(height, width, Math.Max(1, Target / Math.Max(height, width)));

    /// <summary>Width of one drawn image.</summary>
    public int TileWidth => Width * Scale;

    /// <summary>Height of one drawn image.</summary>
    public int TileHeight => Height * Scale;
}
