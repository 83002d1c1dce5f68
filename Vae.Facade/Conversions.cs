using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;
using Vae.Reporting;

namespace Vae.Facade;

/// <summary>From the façade's C# types to the core's F# ones (the other way is <see cref="CoreConversions"/>); nothing here is public.</summary>
internal static class Conversions
{
    internal static Core.ModelKind ToCore(this ModelKind kind) =>
        kind == ModelKind.Vae ? Core.ModelKind.Vae : Core.ModelKind.Autoencoder;

    internal static FSharpList<T> ToFSharpList<T>(this IEnumerable<T> items) => ListModule.OfSeq(items);

    internal static FSharpOption<T> ToOption<T>(this T? value) where T : class =>
        value is null ? FSharpOption<T>.None : FSharpOption<T>.Some(value);

    internal static FSharpOption<T> ToOption<T>(this T? value) where T : struct =>
        value.HasValue ? FSharpOption<T>.Some(value.Value) : FSharpOption<T>.None;

    /// <summary>Images (784 values each) as a [n; 784] float32 tensor, after checking their size.</summary>
    internal static torch.Tensor ToTensor(this IReadOnlyList<float[]> images, int width)
    {
        var flat = new float[images.Count * width];
        for (var i = 0; i < images.Count; i++)
        {
            if (images[i].Length != width)
                throw new InvalidInputException($"image {i} has {images[i].Length} values, the model takes {width}");
            images[i].CopyTo(flat, i * width);
        }
        return torch.tensor(flat).view(images.Count, width);
    }
}
