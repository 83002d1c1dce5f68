namespace Vae.Reporting;

/// <summary>One training of a model: a repeat, measured or diverged, with its per-epoch history.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="Kind">VAE or autoencoder.</param>
/// <param name="Repeat">0-based repeat, as in results.json.</param>
/// <param name="Epochs">Every epoch it trained.</param>
internal sealed record Training(string Model, ModelKind Kind, int Repeat, IReadOnlyList<EpochReport> Epochs)
{
    /// <summary>Every training of an experiment: each repeat of each measured model (definition order), then of each
    /// diverged model; the files that list histories (epochs.csv, the TensorBoard events) all take them from here.</summary>
    public static IReadOnlyList<Training> Of(ExperimentResult experiment) =>
        experiment.Models.SelectMany(m => m.Repeats.Select(r => new Training(m.Name, m.Kind, r.Repeat, r.Epochs)))
            .Concat(experiment.Diverged.SelectMany(d => d.Repeats.Select(r => new Training(d.Name, d.Kind, r.Repeat, r.Epochs))))
            .ToArray();
}
