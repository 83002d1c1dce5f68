using Microsoft.FSharp.Core;
using Vae.Reporting;

namespace Vae.Facade;

/// <summary>The shape of a model: kind, encoder hidden widths (input side first; the decoder mirrors
/// them) and latent size. <c>new ModelSpec(ModelKind.Vae, [400, 200, 100], 20)</c> is the seed
/// study's five-layer VAE, 784-400-200-100-20.</summary>
/// <param name="Kind">VAE or autoencoder.</param>
/// <param name="Hidden">Hidden widths, each at least 1.</param>
/// <param name="Latent">Size of the code z, at least 1.</param>
public sealed record ModelSpec(ModelKind Kind, IReadOnlyList<int> Hidden, int Latent)
{
    /// <summary>The seed study's three-layer baseline VAE, 784-400-20.</summary>
    public static ModelSpec Baseline { get; } = new(ModelKind.Vae, [400], 20);

    /// <summary>The seed study's five-layer VAE, 784-400-200-100-20.</summary>
    public static ModelSpec FiveLayer { get; } = new(ModelKind.Vae, [400, 200, 100], 20);

    /// <summary>Output channels of 4 × 4, stride-2 convolutions (with ReLU) before the hidden layers, e.g.
    /// <c>[32, 64]</c> (28 → 14 → 7); none (the default) for a multilayer perceptron. The decoder mirrors them
    /// with transposed convolutions.</summary>
    public IReadOnlyList<int> Conv { get; init; } = [];

    /// <summary>Weight of the KL term in the training loss, reconstruction + β·KL: 1 (the default) trains on the
    /// negative ELBO; a VAE only.</summary>
    public double Beta { get; init; } = 1.0;

    /// <summary>E.g. "VAE 784-400-200-100-20", "VAE 784-c32-c64-256-20 (β = 4)".</summary>
    public string Describe() => ToArchitecture().ToString();

    /// <summary>Number of trainable values.</summary>
    public long ParameterCount => Core.ArchitectureModule.parameterCount(ToArchitecture());

    /// <summary>The validated core architecture; throws <see cref="Core.InvalidInputException"/> naming the rule broken.</summary>
    internal Core.Architecture ToArchitecture() =>
        Core.InvalidInput.orRaise("model", Core.ArchitectureModule.tryOfDesign(28, 28,
            new Core.Design(Kind.ToCore(), Conv.ToFSharpList(), Hidden.ToFSharpList(), Latent, Beta)));

    internal static ModelSpec FromCore(Core.Architecture a) => new(a.Kind.ToResult(), a.Hidden.ToArray(), a.Latent) { Conv = a.Conv.ToArray(), Beta = a.Beta };
}
