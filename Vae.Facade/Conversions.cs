using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
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
}
