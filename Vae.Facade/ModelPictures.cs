using Vae.Reporting;

namespace Vae.Facade;

/// <summary>A picture of a model, written.</summary>
/// <param name="Path">The PNG file (a full path).</param>
/// <param name="Width">Its width in pixels.</param>
/// <param name="Height">Its height in pixels.</param>
/// <param name="Model">The model's architecture, e.g. "VAE 784-400-20".</param>
/// <param name="IsAutoencoder">The model is a plain autoencoder, whose codes nothing drew toward N(0, I).</param>
public sealed record ModelPicture(string Path, int Width, int Height, string Model, bool IsAutoencoder);

/// <summary>Pictures of a checkpoint drawn as the report draws a model's (<see cref="ImageGridPng"/>): images decoded
/// from z ~ N(0, I), and test images above their reconstructions. Each checks its count and its output file before it
/// reads the checkpoint, and the checkpoint before the data.</summary>
public static class ModelPictures
{
    /// <summary>The most images <see cref="WriteSamples"/> draws (a grid of 32 × 32).</summary>
    public const int MaxSamples = 1000;

    /// <summary>The most images <see cref="WriteReconstructions"/> draws (ten pairs of rows of ten).</summary>
    public const int MaxReconstructions = 100;

    /// <summary>Decodes <paramref name="count"/> codes drawn from N(0, I) with <paramref name="seed"/> (the same seed, the
    /// same picture) by the model saved in <paramref name="checkpoint"/>, and draws them in a square grid into the PNG file
    /// <paramref name="path"/> (its folder is created if missing). An autoencoder is sampled the same way, as the report's
    /// <c>generated.png</c> samples it: its codes were never drawn toward N(0, I), so the images show what its decoder
    /// makes of codes it may never have seen (<see cref="ModelPicture.IsAutoencoder"/> says so).</summary>
    /// <exception cref="Core.InvalidInputException">A count outside 1 to <see cref="MaxSamples"/>, an output that is not a
    /// .png file or cannot be written, a checkpoint that is missing or no valid model, a perceptron whose input is no
    /// square image.</exception>
    public static ModelPicture WriteSamples(string checkpoint, string path, int count = 64, long seed = 0)
    {
        CheckCount(count, MaxSamples);
        var output = Core.OutputFile.check(".png", path);
        var model = VaeModel.Load(checkpoint);
        var architecture = model.Model.Architecture;
        var (height, width) = ImageSizeOf(checkpoint, architecture);
        var images = model.Generate(count, seed);
        var (pictureWidth, pictureHeight) = Writing(output, () => ImageGridPng.WriteGrid(images, height, width, architecture.ToString(),
            $"{count} image{(count == 1 ? "" : "s")} decoded from z ~ N(0, I), seed {seed}", output));
        return new ModelPicture(output, pictureWidth, pictureHeight, architecture.ToString(), !architecture.Kind.IsVae);
    }

    /// <summary>Passes <paramref name="count"/> Fashion-MNIST test images through the model saved in
    /// <paramref name="checkpoint"/> and draws them above their reconstructions (μ decoded for a VAE: no sampling noise),
    /// ten to a row, into the PNG file <paramref name="path"/>. The images are those the report shows: the first test image
    /// of each class in label order, then the second of each, and so on (nine make the report's reconstruction.png).</summary>
    /// <param name="checkpoint">A model checkpoint of 28 × 28 images.</param>
    /// <param name="path">The PNG file to write (its folder is created if missing).</param>
    /// <param name="count">Test images, 1 to <see cref="MaxReconstructions"/>.</param>
    /// <param name="dataDirectory">Where the Fashion-MNIST files are (default: searched as <see cref="FashionMnistData.Load"/> does).</param>
    /// <exception cref="Core.InvalidInputException">A count out of range, an output that is not a .png file or cannot be
    /// written, a checkpoint that is missing, no valid model or not of 28 × 28 images, data that cannot be read.</exception>
    public static ModelPicture WriteReconstructions(string checkpoint, string path, int count = 9, string? dataDirectory = null)
    {
        CheckCount(count, MaxReconstructions);
        if (dataDirectory is { } folder && string.IsNullOrWhiteSpace(folder)) throw new Core.InvalidInputException("--data", "", "must not be empty");
        var output = Core.OutputFile.check(".png", path);
        var model = VaeModel.Load(checkpoint);
        var architecture = model.Model.Architecture;
        var fashionMnist = (Core.FashionMnist.description.Height, Core.FashionMnist.description.Width);
        var size = ImageSizeOf(checkpoint, architecture);
        if (size != fashionMnist)
            throw new Core.InvalidInputException(checkpoint, "",
                $"holds {architecture}, a model of {size.Height} × {size.Width} images; reconstruct shows Fashion-MNIST's test images, {fashionMnist.Height} × {fashionMnist.Width}");
        var data = FashionMnistData.Load(dataDirectory);
        var originals = Core.OnEngine.examples(data.Dataset, FashionMnistData.ClassNames.Count, count);
        var reconstructions = model.Reconstruct(originals);
        var (pictureWidth, pictureHeight) = Writing(output, () => ImageGridPng.WritePairs(originals, reconstructions, fashionMnist.Height, fashionMnist.Width,
            architecture.ToString(), $"{count} test image{(count == 1 ? "" : "s")} (top) and {(count == 1 ? "its reconstruction" : "their reconstructions")} (bottom)", output));
        return new ModelPicture(output, pictureWidth, pictureHeight, architecture.ToString(), !architecture.Kind.IsVae);
    }

    private static void CheckCount(int count, int maximum)
    {
        if (count < 1 || count > maximum) throw new Core.InvalidInputException("--count", "", $"must be between 1 and {maximum:N0}, was {count}");
    }

    /// <summary>Height and width of the model's images; a perceptron whose input is no square is refused, naming the checkpoint.</summary>
    private static (int Height, int Width) ImageSizeOf(string checkpoint, Core.Architecture architecture) =>
        Core.ArchitectureModule.imageSize(architecture) is { } size
            ? (size.Value.Item1, size.Value.Item2)
            : throw new Core.InvalidInputException(checkpoint, "",
                $"holds {architecture}, a perceptron of {architecture.Input} values per image, which is no square: the images' height and width are unknown");

    /// <summary>Runs <paramref name="write"/>, turning a failed write (a full disk) into one line naming the file.</summary>
    private static T Writing<T>(string file, Func<T> write)
    {
        try
        {
            return write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Core.InvalidInputException($"output file {file}", "", $"could not be written: {e.Message}", e);
        }
    }
}
