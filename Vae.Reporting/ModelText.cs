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

    /// <summary>The encoder's widths from input (the image's pixels) to code: "784-400-200-100-20".</summary>
    public static string Widths(ModelResult model) => Widths(model.Input, model.Hidden, model.Latent);

    /// <summary>Widths from <paramref name="input"/> through <paramref name="hidden"/> to <paramref name="latent"/>: "784-400-20".</summary>
    public static string Widths(int input, IEnumerable<int> hidden, int latent) =>
        string.Join("-", new[] { input }.Concat(hidden).Append(latent));

    /// <summary>Kind and widths: "VAE 784-400-200-100-20".</summary>
    public static string Architecture(ModelResult model) => $"{Kind(model.Kind)} {Widths(model)}";

    /// <summary>"five-layer (VAE)"; the name alone when it already says the kind ("autoencoder").</summary>
    public static string NameAndKind(ModelResult model) =>
        string.Equals(model.Name, Kind(model.Kind), StringComparison.OrdinalIgnoreCase) ? model.Name : $"{model.Name} ({Kind(model.Kind)})";

    /// <summary>Name, kind and widths: "five-layer — VAE 784-400-200-100-20".</summary>
    public static string Title(ModelResult model) => $"{model.Name} — {Architecture(model)}";
}
