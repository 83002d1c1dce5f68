namespace Vae.Reporting;

/// <summary>The ten Fashion-MNIST classes, by label.</summary>
internal static class FashionMnistClasses
{
    /// <summary>The class names of labels 0 to 9, as in the data set's documentation.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>"0 T-shirt/top".</summary>
    public static string Label(int label) => $"{label} {Names[label]}";
}
