using Vae.Reporting;

namespace Vae.Facade;

/// <summary>The real Fashion-MNIST: 60,000 training and 10,000 test images of 28 × 28 pixels in [0, 1],
/// ten classes; every file checked by structure and SHA-256 as it loads.</summary>
public sealed class FashionMnistData
{
    private FashionMnistData(Core.Data.Dataset dataset) => Dataset = dataset;

    internal Core.Data.Dataset Dataset { get; }

    /// <summary>Class names by label: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = Core.FashionMnist.classNames;

    /// <summary>Number of training images.</summary>
    public int TrainCount => Dataset.Train.Count;

    /// <summary>Number of test images.</summary>
    public int TestCount => Dataset.Test.Count;

    /// <summary>Loads the data from <paramref name="directory"/>, or else from the first of
    /// $FASHION_MNIST_DIR, the repository's data/fashion-mnist and /usr/share/datasets/fashion-mnist
    /// that holds the four files.</summary>
    /// <exception cref="Core.InvalidInputException">A file is missing, unreadable, corrupt or not the official one.</exception>
    public static FashionMnistData Load(string? directory = null) =>
        new(Core.OnEngine.loadData(directory.ToOption()));

    /// <summary>Test images <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> − 1, 784 values each.</summary>
    public IReadOnlyList<float[]> TestImages(int start, int count) => Core.OnEngine.testImages(Dataset, start, count);

    /// <summary>Labels (0–9) of test images <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> − 1.</summary>
    public IReadOnlyList<int> TestLabels(int start, int count) => Core.OnEngine.testLabels(Dataset, start, count);
}
