using Microsoft.FSharp.Core;
using Vae.Reporting;

namespace Vae.Facade;

/// <summary>What training left: every epoch, and the best one (whose weights the model now holds).</summary>
/// <param name="Epochs">Every epoch trained.</param>
/// <param name="BestEpoch">The epoch with the lowest validation loss (0 when the first epoch diverged).</param>
/// <param name="DivergedAtEpoch">The epoch whose training or validation loss was NaN or infinite, where training
/// stopped; null when training did not diverge.</param>
public sealed record TrainingReport(IReadOnlyList<EpochReport> Epochs, int BestEpoch, int? DivergedAtEpoch = null)
{
    /// <summary>The record of the best epoch; null when the first epoch diverged.</summary>
    public EpochReport? Best => Epochs.FirstOrDefault(e => e.Epoch == BestEpoch);

    /// <summary>True when training stopped at a NaN or infinite loss.</summary>
    public bool Diverged => DivergedAtEpoch is not null;
}

/// <summary>Which images to evaluate on.</summary>
public enum DataSplit
{
    /// <summary>The 10,000 test images.</summary>
    Test,
    /// <summary>All 60,000 training images.</summary>
    Train,
}

/// <summary>A variational or standard autoencoder: create, train, evaluate, encode, reconstruct,
/// generate, save and load. Images are arrays of 784 values in [0, 1], row-major.</summary>
public sealed class VaeModel
{
    private VaeModel(Core.Model model) => Model = model;

    internal Core.Model Model { get; private set; }

    /// <summary>The model's shape.</summary>
    public ModelSpec Spec => ModelSpec.FromCore(Model.Architecture);

    /// <summary>Number of trainable values.</summary>
    public long ParameterCount => Core.ModelModule.parameterCount(Model);

    /// <summary>A new model with PyTorch's default initialisation drawn from <paramref name="seed"/>.</summary>
    /// <exception cref="Core.InvalidInputException">The spec breaks a rule (a width or the latent size below 1), or
    /// training the model would need more memory than this machine can give it; nothing was allocated.</exception>
    public static VaeModel Create(ModelSpec spec, long seed = 1)
    {
        var architecture = spec.ToArchitecture();
        Core.InvalidInput.orRaise("model", Core.Memory.check(Core.Training.TrainingOptionsModule.defaults.BatchSize, architecture));
        return new VaeModel(Core.OnEngine.createModel(seed, architecture));
    }

    internal static VaeModel Wrap(Core.Model model) => new(model);

    /// <summary>Trains on the training set less <paramref name="validationSize"/> images (split by
    /// <paramref name="splitSeed"/>), validating after each epoch; early stopping as the settings say;
    /// the best epoch's weights are kept. Progress is reported after every epoch. A NaN or infinite loss stops
    /// training at that epoch (see <see cref="TrainingReport.DivergedAtEpoch"/>).</summary>
    /// <exception cref="OperationCanceledException">Cancelled; the model keeps the weights it had reached.</exception>
    public Task<TrainingReport> TrainAsync(
        FashionMnistData data,
        TrainingSettings? settings = null,
        int validationSize = 5000,
        long splitSeed = 42,
        IProgress<EpochReport>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var options = (settings ?? new TrainingSettings()).ToCore();
        if (Core.Data.validationSizeProblem(data.TrainCount, validationSize) is { } problem)
            throw new Core.InvalidInputException("validationSize", "", problem.Value);
        var hooks = new Core.Training.TrainingHooks(
            FuncConvert.FromAction<Core.Training.EpochRecord>(e => progress?.Report(e.ToResult())),
            FuncConvert.FromAction<int, int, int>((_, _, _) => { }),
            FuncConvert.FromAction<Core.Training.TrainingState>(_ => { }),
            cancellationToken);
        return Train();

        async Task<TrainingReport> Train()
        {
            var result = await Core.OnEngine.trainAsync(hooks, options, splitSeed, validationSize, data.Dataset, Model);
            Model = result.Model;
            return new TrainingReport(result.History.Select(e => e.ToResult()).ToArray(), result.BestEpoch, result.DivergedAt?.Value);
        }
    }

    /// <summary>Mean reconstruction, KL and loss per image on a split; the VAE's sampling noise is drawn from <paramref name="seed"/>.</summary>
    public LossBreakdown Evaluate(FashionMnistData data, DataSplit split = DataSplit.Test, long seed = 0) =>
        Core.OnEngine.evaluate(seed, Model, split == DataSplit.Test ? data.Dataset.Test : data.Dataset.Train).ToResult();

    /// <summary>The code of each image: μ for a VAE, z for an autoencoder (Latent values each).</summary>
    public IReadOnlyList<float[]> Encode(IReadOnlyList<float[]> images) => Core.OnEngine.encode(Model, images.ToArray());

    /// <summary>Each image passed through its code and decoded (μ for a VAE: no sampling noise).</summary>
    public IReadOnlyList<float[]> Reconstruct(IReadOnlyList<float[]> images) => Core.OnEngine.reconstruct(Model, images.ToArray());

    /// <summary>Images decoded from codes (Latent values each).</summary>
    public IReadOnlyList<float[]> Decode(IReadOnlyList<float[]> codes) =>
        Core.OnEngine.decode(Model, codes.ToArray());

    /// <summary><paramref name="count"/> images decoded from z ~ N(0, I) drawn from <paramref name="seed"/>.</summary>
    public IReadOnlyList<float[]> Generate(int count, long seed = 0)
    {
        if (count < 1) throw new Core.InvalidInputException("count", "", $"must be at least 1, was {count}");
        return Core.OnEngine.generate(seed, count, Model);
    }

    /// <summary>Saves the model as a safetensors file (architecture in its metadata); the file appears whole or not at all.</summary>
    public void Save(string path) => Core.OnEngine.save(path, Model);

    /// <summary>Loads a model saved by <see cref="Save"/>.</summary>
    /// <exception cref="Core.InvalidInputException">Not a regular file, not such a checkpoint, its tensors do not match the
    /// architecture it claims, or they hold NaN or infinite values; the message is one line naming the field.</exception>
    public static VaeModel Load(string path) => new(Core.OnEngine.load(path));

}
