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
    internal static IReadOnlyList<float[]> ToRows(this torch.Tensor t) => Core.OnEngine.rows(t);

    /// <summary>One column of a [n; d] tensor.</summary>
    internal static IReadOnlyList<float> Column(this torch.Tensor t, int column) => Core.OnEngine.column(t, column);
}
