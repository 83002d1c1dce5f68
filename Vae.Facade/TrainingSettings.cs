namespace Vae.Facade;

/// <summary>How to train; the defaults are the seed study's.</summary>
/// <param name="MaxEpochs">Epochs at most.</param>
/// <param name="BatchSize">Images per step.</param>
/// <param name="LearningRate">Adam's learning rate.</param>
/// <param name="Patience">Stop after this many epochs without a lower validation loss; null trains every epoch.</param>
/// <param name="Seed">Seeds the shuffling and the sampling noise (a model's initial weights have their own seed).</param>
public sealed record TrainingSettings(int MaxEpochs = 15, int BatchSize = 64, double LearningRate = 1e-3, int? Patience = 3, long Seed = 1)
{
    internal Core.Training.TrainingOptions ToCore() =>
        Core.InvalidInput.orRaise("training settings", Core.Training.TrainingOptionsModule.validate(
            new Core.Training.TrainingOptions(MaxEpochs, BatchSize, LearningRate, Patience.ToOption(), Seed)));
}
