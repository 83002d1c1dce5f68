using System.Globalization;

namespace Vae.Reporting;

/// <summary>The words the report uses for a model: its kind and its architecture.</summary>
internal static class ModelText
{
    /// <summary>"VAE" or "autoencoder".</summary>
    public static string Kind(ModelKind kind) => kind switch
    {
        ModelKind.Vae => "VAE",
        ModelKind.Autoencoder => "autoencoder",
        _ => kind.ToString(),
    };

    /// <summary>"VAE" or "AE", as in "VAE 784-400-20".</summary>
    public static string ShortKind(ModelKind kind) => kind switch
    {
        ModelKind.Vae => "VAE",
        ModelKind.Autoencoder => "AE",
        _ => kind.ToString(),
    };

    /// <summary>The encoder's widths from input (the image's pixels) to code: "784-400-200-100-20"; convolutions
    /// by their channels, "784-c32-c64-256-20".</summary>
    public static string Widths(ModelResult model) => Widths(model.Input, model.Conv, model.Hidden, model.Latent);

    /// <summary>Widths from <paramref name="input"/> through convolutions of <paramref name="conv"/> channels and
    /// <paramref name="hidden"/> to <paramref name="latent"/>: "784-400-20", "784-c32-c64-256-20".</summary>
    public static string Widths(int input, IEnumerable<int> conv, IEnumerable<int> hidden, int latent) =>
        string.Join("-", new[] { input.ToString(CultureInfo.InvariantCulture) }
            .Concat(conv.Select(c => $"c{c}"))
            .Concat(hidden.Append(latent).Select(w => w.ToString(CultureInfo.InvariantCulture))));

    /// <summary>" (β = 4)" for a VAE trained with β ≠ 1; empty otherwise.</summary>
    public static string BetaText(double beta) => beta == 1.0 ? "" : $" (β = {beta.ToString(CultureInfo.InvariantCulture)})";

    /// <summary>Kind and widths: "VAE 784-400-200-100-20", "VAE 784-400-20 (β = 4)".</summary>
    public static string Architecture(ModelResult model) => $"{Kind(model.Kind)} {Widths(model)}{BetaText(model.Beta)}";

    /// <summary>"five-layer (VAE)"; the name alone when it already says the kind ("autoencoder").</summary>
    public static string NameAndKind(ModelResult model) =>
        string.Equals(model.Name, Kind(model.Kind), StringComparison.OrdinalIgnoreCase) ? model.Name : $"{model.Name} ({Kind(model.Kind)})";

    /// <summary>Name, kind and widths: "five-layer — VAE 784-400-200-100-20".</summary>
    public static string Title(ModelResult model) => $"{model.Name} — {Architecture(model)}";
}
