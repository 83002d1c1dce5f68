using System.Text.Json.Serialization;

namespace Vae.Reporting;

/// <summary>Which model: a variational autoencoder or a standard autoencoder.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
public enum ModelKind
{
    /// <summary>Variational autoencoder: Gaussian posterior, reparameterised sample, loss = reconstruction + KL.</summary>
    [JsonStringEnumMemberName("vae")] Vae,
    /// <summary>Standard autoencoder: one linear layer to the code z, loss = reconstruction.</summary>
    [JsonStringEnumMemberName("ae")] Autoencoder,
}

/// <summary>What a kind of model has, asked here rather than by comparing kinds: a new kind is then one value
/// of <see cref="ModelKind"/>, its words in ModelText, and one line in each function below.</summary>
public static class ModelKinds
{
    /// <summary>True when the encoder gives a posterior: the model has a KL term, an ELBO and an IWAE estimate.</summary>
    public static bool HasPosterior(this ModelKind kind) => kind switch
    {
        ModelKind.Vae => true,
        _ => false,
    };
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
/// <param name="IwaeNll">Importance-weighted estimate of −log p(x) in nats per image (VAEs, test set only): at most <paramref name="Loss"/>.</param>
/// <param name="IwaeNllStandardError">The IWAE estimate's standard error over the test images it averages (their sample standard
/// deviation / √n): how far another draw of as many test images could move it. Absent for one image, and in a run whose estimates were
/// stored before it was kept.</param>
public sealed record LossBreakdown(double Recon, double Kl, double Loss, double? IwaeNll = null, double? IwaeNllStandardError = null);

/// <summary>How useful a model's codes are as features: classifiers fitted on the training set's codes, scored on the test set.</summary>
/// <param name="LinearAccuracy">Multinomial logistic regression on the codes.</param>
/// <param name="KnnAccuracy">5-nearest-neighbour vote on the codes.</param>
/// <param name="PcaLinearAccuracy">The yardstick: logistic regression on a PCA projection of the pixels to as many dimensions.</param>
/// <param name="PcaKnnAccuracy">The yardstick: 5-nearest neighbours on that PCA projection.</param>
public sealed record ProbeResult(double LinearAccuracy, double KnnAccuracy, double PcaLinearAccuracy, double PcaKnnAccuracy);

/// <summary>One repeat of a model (its own seed): the numbers, without the pictures.</summary>
/// <param name="Repeat">0-based repeat.</param>
/// <param name="Seed">Its training seed.</param>
/// <param name="BestEpoch">Epoch with the lowest validation loss.</param>
/// <param name="Best">That epoch's record.</param>
/// <param name="Test">Test losses with the best epoch's weights.</param>
/// <param name="ActiveUnits">Latent dimensions whose posterior mean varies over the test set (variance above 0.01).</param>
/// <param name="Probe">Feature quality of the codes.</param>
/// <param name="GenerationDistance">Generation from z ~ N(0, I): Fréchet distance to the test images in the pixels' PCA space.</param>
/// <param name="FittedGenerationDistance">Generation from a Gaussian fitted to the training codes: the same distance.</param>
/// <param name="TrainingSeconds">Wall-clock seconds of training.</param>
/// <remarks>Every repeat keeps its per-epoch history (<see cref="Epochs"/>) and its weights (<see cref="Checkpoint"/>).</remarks>
public sealed record RepeatResult(
    int Repeat, long Seed, int BestEpoch, EpochReport Best, LossBreakdown Test, int ActiveUnits, ProbeResult Probe,
    double GenerationDistance, double FittedGenerationDistance, double TrainingSeconds)
{
    /// <summary>Every epoch of this repeat's training.</summary>
    public IReadOnlyList<EpochReport> Epochs { get; init; } = [];

    /// <summary>Path of this repeat's weights, relative to the run folder (another experiment's for a model taken from it).</summary>
    public string Checkpoint { get; init; } = "";

    /// <summary>Wall-clock seconds of the job that measured this repeat (test losses, probes, distances, pictures); NaN
    /// (null in results.json) when not recorded.</summary>
    public double MeasureSeconds { get; init; } = double.NaN;

    /// <summary>Wall-clock seconds of the job that estimated this repeat's IWAE negative log-likelihood; NaN (null in
    /// results.json) for an autoencoder and when not recorded.</summary>
    public double LikelihoodSeconds { get; init; } = double.NaN;
}

/// <summary>Mean and sample standard deviation of a metric over repeats (standard deviation 0 for one repeat).</summary>
/// <param name="Mean">Mean over repeats.</param>
/// <param name="Std">Sample standard deviation over repeats.</param>
/// <param name="Count">Number of repeats.</param>
public sealed record MetricSummary(double Mean, double Std, int Count);

/// <summary>Which model is best on a metric, and whether the difference is real: Welch's two-sample t-test of the best
/// against the runner-up must reject equal means at the 5 % level.</summary>
/// <param name="Metric">The metric's key, e.g. "testRecon", "iwaeNll", "activeUnits", "linearAccuracy".</param>
/// <param name="Label">The metric in words, e.g. "test reconstruction".</param>
/// <param name="LowerIsBetter">True when a lower value is better.</param>
/// <param name="Best">The model with the best mean.</param>
/// <param name="BestSummary">Its summary.</param>
/// <param name="RunnerUp">The next model, or null when only one model has the metric.</param>
/// <param name="RunnerUpSummary">Its summary, or null.</param>
/// <param name="Clear">True when Welch's t-test rejects equal means at the 5 % level (p &lt; 0.05); false: inconclusive.</param>
public sealed record MetricVerdict(
    string Metric, string Label, bool LowerIsBetter, string Best, MetricSummary BestSummary,
    string? RunnerUp, MetricSummary? RunnerUpSummary, bool Clear)
{
    /// <summary>|best mean − runner-up mean|, or 0 without a runner-up.</summary>
    public double Margin => RunnerUpSummary is null ? 0 : Math.Abs(BestSummary.Mean - RunnerUpSummary.Mean);

    /// <summary>Welch's two-sample t-test of best against runner-up: the two-sided p-value; null when it does not apply
    /// (one repeat on either side, or no spread on both).</summary>
    public double? P { get; init; }

    /// <summary>The 95 % confidence interval of the lead (best over runner-up, positive when the best is ahead), from
    /// Welch's test: its lower end.</summary>
    public double? LeadLow { get; init; }

    /// <summary>The upper end of the lead's 95 % confidence interval.</summary>
    public double? LeadHigh { get; init; }

    /// <summary>This verdict with <see cref="P"/>, <see cref="LeadLow"/> and <see cref="LeadHigh"/> filled from its two
    /// summaries, when the test applies.</summary>
    public MetricVerdict WithTest() => RunnerUpSummary is null || LeadTest(LowerIsBetter, BestSummary, RunnerUpSummary) is not { } t
        ? this
        : this with { P = t.P, LeadLow = t.Low, LeadHigh = t.High };

    /// <summary>Welch's t-test of <paramref name="best"/> against <paramref name="runnerUp"/>: the p-value and the 95 %
    /// confidence interval of the lead (best over runner-up: runner-up − best when lower is better); null when it does not
    /// apply (Core.Statistics.welch).</summary>
    public static (double P, double Low, double High)? LeadTest(bool lowerIsBetter, MetricSummary best, MetricSummary runnerUp)
    {
        var test = Core.Statistics.welch(best.ToCore(), runnerUp.ToCore());
        if (test is null) return null;
        var sign = lowerIsBetter ? -1.0 : 1.0;
        var (low, high) = (sign * test.Value.Low, sign * test.Value.High);
        return (test.Value.P, Math.Min(low, high), Math.Max(low, high));
    }
}

/// <summary>The pictures of one model, as paths relative to the run folder.</summary>
/// <param name="LossCurves">Reconstruction and KL, training and validation, per epoch; best epoch marked.</param>
/// <param name="Generated">3 × 3 images decoded from z ~ N(0, I).</param>
/// <param name="Reconstruction">2 × 9: the run's nine test images above, their reconstructions below.</param>
/// <param name="GeneratedFitted">3 × 3 images decoded from a Gaussian fitted to the training codes (fair generation for an autoencoder).</param>
/// <param name="Interpolation">Ten images along the line between the codes of two test images of different classes.</param>
/// <param name="Traversal">The two most active latent units moved from −3 to +3 standard deviations, a row each.</param>
/// <param name="KlPerDim">Bar chart of the KL divergence of each latent dimension.</param>
public sealed record ModelImages(string LossCurves, string Generated, string Reconstruction, string GeneratedFitted, string Interpolation, string Traversal, string KlPerDim);

/// <summary>The pictures of one experiment, as paths relative to the run folder.</summary>
/// <param name="LatentSpace">Each model's test codes projected on their first two principal components, coloured by class.</param>
/// <param name="BestValidationLoss">Bar chart of each model's best validation loss.</param>
/// <param name="ValidationCurves">Every model's validation loss per epoch, overlaid.</param>
public sealed record ExperimentImages(string LatentSpace, string BestValidationLoss, string ValidationCurves);

/// <summary>Pixel arrays and codes a report draws from; not written to results.json.</summary>
/// <param name="Generated">Nine images (height × width values in [0, 1] each, row by row) decoded from z ~ N(0, I).</param>
/// <param name="Originals">The run's nine test images.</param>
/// <param name="Reconstructions">This model's reconstructions of <paramref name="Originals"/>.</param>
/// <param name="LatentX">First principal component of each test image's code.</param>
/// <param name="LatentY">Second principal component of each test image's code.</param>
/// <param name="LatentLabels">Class label of each test image, aligned with LatentX and LatentY.</param>
/// <param name="GeneratedFitted">Nine images decoded from a Gaussian fitted (full covariance) to the training codes.</param>
/// <param name="Interpolation">Ten images from the first interpolation end to the second.</param>
/// <param name="InterpolationLabels">Class labels of the two interpolated test images.</param>
/// <param name="Traversal">Rows of nine images, one row per entry of <paramref name="TraversalDimensions"/>.</param>
/// <param name="TraversalDimensions">The latent dimensions traversed (0-based), most active first.</param>
public sealed record ModelSamples(
    IReadOnlyList<float[]> Generated,
    IReadOnlyList<float[]> Originals,
    IReadOnlyList<float[]> Reconstructions,
    IReadOnlyList<float> LatentX,
    IReadOnlyList<float> LatentY,
    IReadOnlyList<int> LatentLabels,
    IReadOnlyList<float[]> GeneratedFitted,
    IReadOnlyList<float[]> Interpolation,
    IReadOnlyList<int> InterpolationLabels,
    IReadOnlyList<float[]> Traversal,
    IReadOnlyList<int> TraversalDimensions)
{
    /// <summary>No samples (e.g. results read back from results.json).</summary>
    public static ModelSamples Empty { get; } = new([], [], [], [], [], [], [], [], [], [], []);
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
/// <param name="GenerationDistance">Fréchet distance between the test images and 5,000 images generated from z ~ N(0, I), on the pixels' first 50 principal components (lower: closer to real images in average and spread).</param>
/// <param name="ReusedFrom">Set when the model was not trained here but taken, trained, from this experiment (e.g. "task1").</param>
/// <param name="Checkpoint">The safetensors checkpoint, relative to the run folder.</param>
/// <param name="Images">The model's pictures.</param>
/// <param name="ActiveUnits">Active latent dimensions in the first repeat (posterior-mean variance above 0.01).</param>
/// <param name="KlPerDim">Mean KL divergence of each latent dimension on the test set, first repeat (zeros for an autoencoder).</param>
/// <param name="Probe">Feature quality of the first repeat's codes.</param>
/// <param name="FittedGenerationDistance">Like <paramref name="GenerationDistance"/>, generating from a Gaussian fitted to the training codes.</param>
/// <param name="Repeats">Every repeat's numbers (the first repeat's are also the fields above).</param>
/// <param name="Summary">Mean ± standard deviation over repeats of each metric, by key (see <see cref="MetricVerdict.Metric"/>).</param>
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
    ModelImages Images,
    int ActiveUnits,
    IReadOnlyList<double> KlPerDim,
    ProbeResult Probe,
    double FittedGenerationDistance,
    IReadOnlyList<RepeatResult> Repeats,
    IReadOnlyDictionary<string, MetricSummary> Summary)
{
    /// <summary>The record of the best epoch.</summary>
    [JsonIgnore] public EpochReport Best => Epochs.First(e => e.Epoch == BestEpoch);

    /// <summary>Arrays the report draws; not serialised.</summary>
    [JsonIgnore] public ModelSamples Samples { get; init; } = ModelSamples.Empty;

    /// <summary>Values per input image (the data set's height × width); not serialised: the experiment's data say it.</summary>
    [JsonIgnore] public int Input { get; init; } = DataSetResult.FashionMnist.Pixels;

    /// <summary>Output channels of the encoder's 4 × 4, stride-2 convolutions, input side first; empty for a
    /// multilayer perceptron.</summary>
    public IReadOnlyList<int> Conv { get; init; } = [];

    /// <summary>Weight of the KL term in the training loss (reconstruction + β·KL); 1 for the negative ELBO and for
    /// an autoencoder.</summary>
    public double Beta { get; init; } = 1.0;
}

/// <summary>The data set an experiment trained on.</summary>
/// <param name="Name">"fashion-mnist", or the name of the folder its files were read from.</param>
/// <param name="Folder">The folder its IDX files were read from; null for Fashion-MNIST, whose official files are taken
/// wherever they are found and checked against their published checksums.</param>
/// <param name="Height">Image height in pixels.</param>
/// <param name="Width">Image width in pixels.</param>
/// <param name="Classes">Class names by label.</param>
/// <param name="Interpolation">The two classes (labels) whose first test images the interpolation walks from and to.</param>
/// <param name="TrainImages">Training images (validation included).</param>
/// <param name="TestImages">Test images.</param>
/// <param name="Sha256">Each file read, by name, with the SHA-256 of its decompressed content.</param>
public sealed record DataSetResult(
    string Name,
    string? Folder,
    int Height,
    int Width,
    IReadOnlyList<string> Classes,
    IReadOnlyList<int> Interpolation,
    int TrainImages,
    int TestImages,
    IReadOnlyDictionary<string, string> Sha256)
{
    /// <summary>Fashion-MNIST: 28 × 28 images of ten classes, the interpolation from a T-shirt/top to a sneaker.</summary>
    public static DataSetResult FashionMnist { get; } = Core.FashionMnist.description.ToResult();

    /// <summary>Values per image: height × width.</summary>
    [JsonIgnore] public int Pixels => Height * Width;

    /// <summary>True for Fashion-MNIST's official files, the default.</summary>
    [JsonIgnore] public bool IsFashionMnist => Folder is null;

    /// <summary>A class as legends write it: "0 T-shirt/top".</summary>
    public string ClassLabel(int label) => $"{label} {Classes[label]}";
}

/// <summary>The results of one experiment: its models, and which is best (lowest best validation loss).</summary>
/// <param name="Experiment">The definition's name, e.g. "task1".</param>
/// <param name="Description">The definition's description.</param>
/// <param name="StartedUtc">When training of the experiment began.</param>
/// <param name="Seed">The training seed.</param>
/// <param name="Models">Every model, in definition order.</param>
/// <param name="Best">Name of the model with the lowest best validation loss; null when every model diverged.</param>
/// <param name="Images">The experiment's pictures.</param>
/// <param name="Repeats">How many times each model was trained, each with its own seed (seed + repeat).</param>
/// <param name="Verdicts">Per metric, the best model and whether its lead is beyond the noise of the repeats.</param>
/// <param name="IwaeSamples">Importance samples per image of the IWAE estimate.</param>
/// <param name="IwaeImages">Test images the IWAE estimate averages over.</param>
public sealed record ExperimentResult(
    string Experiment,
    string Description,
    DateTime StartedUtc,
    long Seed,
    IReadOnlyList<ModelResult> Models,
    string? Best,
    ExperimentImages Images,
    int Repeats,
    IReadOnlyList<MetricVerdict> Verdicts,
    int IwaeSamples,
    int IwaeImages)
{
    /// <summary>Models whose training diverged (a NaN or infinite loss) in some repeat: not in <see cref="Models"/>,
    /// not measured, never best.</summary>
    public IReadOnlyList<DivergedModel> Diverged { get; init; } = [];

    /// <summary>The most epochs a training could run (after the command line's overrides); null when unknown (results
    /// written before it was recorded). A best epoch equal to it means the model was still improving when stopped.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? MaxEpochs { get; init; }

    /// <summary>The data set the experiment trained on: its image size and class names are the pictures'.</summary>
    [JsonIgnore] public DataSetResult Data { get; init; } = DataSetResult.FashionMnist;

    /// <summary>The data set as results.json records it: only a folder's (Fashion-MNIST, the default, is left out, so
    /// that its results files stay as they were before data sets could be chosen).</summary>
    [JsonPropertyName("data"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DataSetResult? RecordedData => Data.IsFashionMnist ? null : Data;
}

/// <summary>One repeat of a model that diverged.</summary>
/// <param name="Repeat">0-based repeat.</param>
/// <param name="Seed">Its training seed.</param>
/// <param name="DivergedAtEpoch">The epoch whose training or validation loss was NaN or infinite (training stopped
/// there), or null for a repeat that trained without diverging.</param>
/// <param name="Epochs">Every epoch trained; a loss that was not finite is written as null in results.json.</param>
public sealed record DivergedRepeat(int Repeat, long Seed, int? DivergedAtEpoch, IReadOnlyList<EpochReport> Epochs);

/// <summary>A model whose training diverged in at least one repeat.</summary>
/// <param name="Name">Its name in the experiment.</param>
/// <param name="Kind">VAE or autoencoder.</param>
/// <param name="Hidden">Encoder hidden widths.</param>
/// <param name="Latent">Size of the code z.</param>
/// <param name="Parameters">Number of trainable values.</param>
/// <param name="Repeats">Every repeat, diverged or not.</param>
public sealed record DivergedModel(string Name, ModelKind Kind, IReadOnlyList<int> Hidden, int Latent, long Parameters, IReadOnlyList<DivergedRepeat> Repeats)
{
    /// <summary>Values per input image (the data set's height × width); not serialised: the experiment's data say it.</summary>
    [JsonIgnore] public int Input { get; init; } = DataSetResult.FashionMnist.Pixels;

    /// <summary>Output channels of the encoder's convolutions; empty for a multilayer perceptron.</summary>
    public IReadOnlyList<int> Conv { get; init; } = [];

    /// <summary>Weight of the KL term in the training loss.</summary>
    public double Beta { get; init; } = 1.0;
}

/// <summary>A whole run: one or more experiments written into one folder.</summary>
/// <param name="Run">The name given to the run (the experiment or study run).</param>
/// <param name="StartedUtc">When the run began.</param>
/// <param name="Quick">True when trained on a small subset for a smoke test.</param>
/// <param name="Experiments">The experiments, in the order they ran.</param>
/// <param name="Lanes">Models trained at once.</param>
/// <param name="ThreadsPerModel">libtorch threads each model trained and was measured with (its numbers depend on them).</param>
public sealed record RunResult(string Run, DateTime StartedUtc, bool Quick, IReadOnlyList<ExperimentResult> Experiments, int Lanes = 1, int ThreadsPerModel = 1);
