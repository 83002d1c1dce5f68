using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using TorchSharp;

namespace Vae.Facade;

/// <summary>Between the façade's C# types and the core's F# ones; nothing here is public.</summary>
internal static class Conversions
{
    internal static Core.ModelKind ToCore(this ModelKind kind) =>
        kind == ModelKind.Vae ? Core.ModelKind.Vae : Core.ModelKind.Autoencoder;

    internal static ModelKind ToFacade(this Core.ModelKind kind) =>
        kind.IsVae ? ModelKind.Vae : ModelKind.Autoencoder;

    internal static FSharpList<T> ToFSharpList<T>(this IEnumerable<T> items) => ListModule.OfSeq(items);

    internal static FSharpOption<T> ToOption<T>(this T? value) where T : class =>
        value is null ? FSharpOption<T>.None : FSharpOption<T>.Some(value);

    internal static FSharpOption<T> ToOption<T>(this T? value) where T : struct =>
        value.HasValue ? FSharpOption<T>.Some(value.Value) : FSharpOption<T>.None;

    internal static EpochReport ToFacade(this Core.Training.EpochRecord e) =>
        new(e.Epoch, e.TrainReconstruction, e.TrainKl, e.ValidationReconstruction, e.ValidationKl, e.Seconds);

    internal static LossBreakdown ToFacade(this Core.Evaluation.Evaluation e) => new(e.Reconstruction, e.Kl, e.Loss);

    /// <summary>Rows of a [n; d] tensor as float arrays.</summary>
    internal static IReadOnlyList<float[]> ToRows(this torch.Tensor t)
    {
        using var contiguous = t.detach().to_type(torch.ScalarType.Float32).contiguous();
        var all = contiguous.data<float>().ToArray();
        var columns = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(i => all.AsSpan(i * columns, columns).ToArray()).ToArray();
    }

    /// <summary>One column of a [n; d] tensor.</summary>
    internal static IReadOnlyList<float> Column(this torch.Tensor t, int column)
    {
        using var c = t.select(1, column).to_type(torch.ScalarType.Float32).contiguous();
        return c.data<float>().ToArray();
    }

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
