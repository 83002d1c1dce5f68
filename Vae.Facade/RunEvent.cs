using Vae.Reporting;

namespace Vae.Facade;

/// <summary>Which measurement of a trained model a <see cref="RunEvent.Measured"/> reports.</summary>
public enum MeasurementKind
{
    /// <summary>The test set: losses, latent analysis, probes, generation and the pictures.</summary>
    TestSet,

    /// <summary>The IWAE estimate of the test log-likelihood (nothing to estimate for an autoencoder: it is done at once).</summary>
    Likelihood,
}

/// <summary>What a run reports as it goes (<see cref="ExperimentRunner.RunAsync"/>), one event per step of a model in a
/// repeat; match on the nested records. A trained model gives <see cref="Started"/>, then <see cref="BatchDone"/> and
/// <see cref="EpochDone"/> as it trains, then either <see cref="Diverged"/> (it is not measured) or a
/// <see cref="Measured"/> for each of its two measurements and <see cref="Finished"/> after the second. A model taken
/// from another experiment's best is not trained: it gives <see cref="Finished"/> alone.</summary>
/// <param name="Experiment">The model's experiment.</param>
/// <param name="Model">The model's name.</param>
/// <param name="Repeat">0-based repeat (each repeat trains with its own seed).</param>
/// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
/// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
public abstract record RunEvent(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount)
{
    /// <summary>The model's training starts.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="MaxEpochs">Epochs at most (early stopping may end it sooner).</param>
    /// <param name="Batches">Batches per epoch.</param>
    public sealed record Started(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, int MaxEpochs, int Batches)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);

    /// <summary>Training has done <paramref name="Batch"/> batches of the epoch; reported every 25 batches and at
    /// each epoch's last.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="Epoch">The epoch under way (1-based).</param>
    /// <param name="MaxEpochs">Epochs at most.</param>
    /// <param name="Batch">Batches done in this epoch.</param>
    /// <param name="Batches">Batches per epoch.</param>
    public sealed record BatchDone(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, int Epoch, int MaxEpochs, int Batch, int Batches)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);

    /// <summary>An epoch of training is done and validated.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="Epoch">The epoch's losses and time.</param>
    /// <param name="MaxEpochs">Epochs at most.</param>
    public sealed record EpochDone(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, EpochReport Epoch, int MaxEpochs)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);

    /// <summary>Training stopped at a NaN or infinite loss: the model is not measured and never best.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="Epoch">The epoch whose loss was not finite.</param>
    public sealed record Diverged(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, EpochReport Epoch)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);

    /// <summary>One of a trained model's two measurements is done.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="Measurement">Which one.</param>
    public sealed record Measured(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, MeasurementKind Measurement)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);

    /// <summary>The model is trained and measured, or taken from another experiment.</summary>
    /// <param name="Experiment">The model's experiment.</param>
    /// <param name="Model">The model's name.</param>
    /// <param name="Repeat">0-based repeat.</param>
    /// <param name="ModelIndex">0-based index of the model within the run, counting every repeat.</param>
    /// <param name="ModelCount">Models in the whole run, counting every repeat.</param>
    /// <param name="Best">The epoch with the lowest validation loss, whose weights the model keeps.</param>
    /// <param name="Epochs">Epochs trained.</param>
    /// <param name="ReusedFrom">For a model taken from another experiment's best: that model, as experiment/model; otherwise null.</param>
    public sealed record Finished(string Experiment, string Model, int Repeat, int ModelIndex, int ModelCount, EpochReport Best, int Epochs, string? ReusedFrom)
        : RunEvent(Experiment, Model, Repeat, ModelIndex, ModelCount);
}
