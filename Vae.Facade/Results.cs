using System.Text.Json.Serialization;

namespace Vae.Facade;

/// <summary>Which model: a variational autoencoder or a standard autoencoder.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
public enum ModelKind
{
    /// <summary>Variational autoencoder: Gaussian posterior, reparameterised sample, loss = reconstruction + KL.</summary>
    [JsonStringEnumMemberName("vae")] Vae,
    /// <summary>Standard autoencoder: one linear layer to the code z, loss = reconstruction.</summary>
    [JsonStringEnumMemberName("ae")] Autoencoder,
}

/// <summary>One epoch of training: means per image.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainRecon">Training reconstruction (binary cross-entropy summed over pixels).</param>
/// <param name="TrainKl">Training KL divergence (0 for an autoencoder).</param>
/// <param name="ValRecon">Validation reconstruction.</param>
/// <param name="ValKl">Validation KL divergence (0 for an autoencoder).</param>
/// <param name="Seconds">Wall-clock seconds of the epoch, validation included.</param>
public sealed record EpochReport(int Epoch, double TrainRecon, double TrainKl, double ValRecon, double ValKl, double Seconds)
{
    /// <summary>Training loss: reconstruction + KL.</summary>
    [JsonIgnore] public double TrainLoss => TrainRecon + TrainKl;

    /// <summary>Validation loss: reconstruction + KL.</summary>
    [JsonIgnore] public double ValLoss => ValRecon + ValKl;
}

/// <summary>Mean losses per image on a split.</summary>
/// <param name="Recon">Reconstruction (binary cross-entropy summed over pixels).</param>
/// <param name="Kl">KL divergence (0 for an autoencoder).</param>
/// <param name="Loss">Recon + Kl: the negative ELBO of a VAE.</param>
public sealed record LossBreakdown(double Recon, double Kl, double Loss);

/// <summary>The pictures of one model, as paths relative to the run folder.</summary>
/// <param name="LossCurves">Reconstruction and KL, training and validation, per epoch; best epoch marked.</param>
/// <param name="Generated">3 × 3 images decoded from z ~ N(0, I).</param>
/// <param name="Reconstruction">2 × 9: the run's nine test images above, their reconstructions below.</param>
public sealed record ModelImages(string LossCurves, string Generated, string Reconstruction);

/// <summary>The pictures of one experiment, as paths relative to the run folder.</summary>
/// <param name="LatentSpace">Each model's test codes projected on their first two principal components, coloured by class.</param>
/// <param name="BestValidationLoss">Bar chart of each model's best validation loss.</param>
/// <param name="ValidationCurves">Every model's validation loss per epoch, overlaid.</param>
public sealed record ExperimentImages(string LatentSpace, string BestValidationLoss, string ValidationCurves);

/// <summary>Pixel arrays and codes a report draws from; not written to results.json.</summary>
/// <param name="Generated">Nine images (784 values in [0, 1] each) decoded from z ~ N(0, I).</param>
/// <param name="Originals">The run's nine test images.</param>
/// <param name="Reconstructions">This model's reconstructions of <paramref name="Originals"/>.</param>
/// <param name="LatentX">First principal component of each test image's code.</param>
/// <param name="LatentY">Second principal component of each test image's code.</param>
/// <param name="LatentLabels">Class label (0–9) of each test image, aligned with LatentX and LatentY.</param>
public sealed record ModelSamples(
    IReadOnlyList<float[]> Generated,
    IReadOnlyList<float[]> Originals,
    IReadOnlyList<float[]> Reconstructions,
    IReadOnlyList<float> LatentX,
    IReadOnlyList<float> LatentY,
    IReadOnlyList<int> LatentLabels)
{
    /// <summary>No samples (e.g. results read back from results.json).</summary>
    public static ModelSamples Empty { get; } = new([], [], [], [], [], []);
}

/// <summary>One trained model of an experiment.</summary>
/// <param name="Name">Unique within the experiment.</param>
/// <param name="Kind">VAE or autoencoder.</param>
/// <param name="Hidden">Encoder hidden widths, input side first; the decoder mirrors them.</param>
/// <param name="Latent">Size of the code z.</param>
/// <param name="Parameters">Number of trainable values.</param>
/// <param name="BestEpoch">Epoch with the lowest validation loss; its weights are the model's.</param>
/// <param name="Epochs">Every epoch trained.</param>
/// <param name="Test">Losses on the test set (10,000 images) with the best epoch's weights.</param>
/// <param name="TrainingSeconds">Wall-clock seconds of training, validation included.</param>
/// <param name="GenerationDistance">Mean squared pixel distance from each of 1,000 images generated from z ~ N(0, I) to its nearest test image (lower: generated images look more like real ones).</param>
/// <param name="ReusedFrom">Set when the model was not trained here but taken, trained, from this experiment (e.g. "task1").</param>
/// <param name="Checkpoint">The safetensors checkpoint, relative to the run folder.</param>
/// <param name="Images">The model's pictures.</param>
public sealed record ModelResult(
    string Name,
    ModelKind Kind,
    IReadOnlyList<int> Hidden,
    int Latent,
    long Parameters,
    int BestEpoch,
    IReadOnlyList<EpochReport> Epochs,
    LossBreakdown Test,
    double TrainingSeconds,
    double GenerationDistance,
    string? ReusedFrom,
    string Checkpoint,
    ModelImages Images)
{
    /// <summary>The record of the best epoch.</summary>
    [JsonIgnore] public EpochReport Best => Epochs.First(e => e.Epoch == BestEpoch);

    /// <summary>Arrays the report draws; not serialised.</summary>
    [JsonIgnore] public ModelSamples Samples { get; init; } = ModelSamples.Empty;
}

/// <summary>The results of one experiment: its models, and which is best (lowest best validation loss).</summary>
/// <param name="Experiment">The definition's name, e.g. "task1".</param>
/// <param name="Description">The definition's description.</param>
/// <param name="StartedUtc">When training of the experiment began.</param>
/// <param name="Seed">The training seed.</param>
/// <param name="Models">Every model, in definition order.</param>
/// <param name="Best">Name of the model with the lowest best validation loss.</param>
/// <param name="Images">The experiment's pictures.</param>
public sealed record ExperimentResult(
    string Experiment,
    string Description,
    DateTime StartedUtc,
    long Seed,
    IReadOnlyList<ModelResult> Models,
    string Best,
    ExperimentImages Images);

/// <summary>A whole run: one or more experiments written into one folder.</summary>
/// <param name="Run">The name given to the run (the experiment or study run).</param>
/// <param name="StartedUtc">When the run began.</param>
/// <param name="Quick">True when trained on a small subset for a smoke test.</param>
/// <param name="Experiments">The experiments, in the order they ran.</param>
public sealed record RunResult(string Run, DateTime StartedUtc, bool Quick, IReadOnlyList<ExperimentResult> Experiments);
