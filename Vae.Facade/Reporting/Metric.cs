namespace Vae.Facade.Reporting;

/// <summary>Which models a metric compares.</summary>
internal enum MetricScope
{
    /// <summary>Every model: the value means the same for a VAE and an autoencoder (reconstruction, size, time).</summary>
    AllModels,

    /// <summary>VAEs only: an autoencoder has no KL term.</summary>
    VaesOnly,

    /// <summary>Models of the same kind: a VAE's total loss includes KL, an autoencoder's does not.</summary>
    SameKind,
}

/// <summary>A number every model has, where lower is better or at least cheaper, and the words to compare it.</summary>
/// <param name="Name">"test loss".</param>
/// <param name="Lowest">The superlative: "the lowest test loss", "the fewest parameters".</param>
/// <param name="Below">The comparative: "below", "fewer than", "less than".</param>
/// <param name="Highest">Names the other end: "the highest", "the largest", "the longest".</param>
/// <param name="Value">The model's value.</param>
/// <param name="Format">How the value is printed.</param>
/// <param name="FormatDifference">How a difference of two values is printed.</param>
/// <param name="Scope">Which models are compared with each other.</param>
internal sealed record Metric(
    string Name,
    string Lowest,
    string Below,
    string Highest,
    Func<ModelResult, double> Value,
    Func<double, string> Format,
    Func<double, string> FormatDifference,
    MetricScope Scope)
{
    /// <summary>Every metric of the report's table, in its column order.</summary>
    public static readonly IReadOnlyList<Metric> All =
    [
        Loss("training reconstruction", m => m.Best.TrainRecon, MetricScope.AllModels),
        Loss("training KL", m => m.Best.TrainKl, MetricScope.VaesOnly),
        Loss("training loss", m => m.Best.TrainLoss, MetricScope.SameKind),
        Loss("validation reconstruction", m => m.Best.ValRecon, MetricScope.AllModels),
        Loss("validation KL", m => m.Best.ValKl, MetricScope.VaesOnly),
        Loss("validation loss", m => m.Best.ValLoss, MetricScope.SameKind),
        Loss("test reconstruction", m => m.Test.Recon, MetricScope.AllModels),
        Loss("test KL", m => m.Test.Kl, MetricScope.VaesOnly),
        Loss("test loss", m => m.Test.Loss, MetricScope.SameKind),
        new("generation distance", "the lowest generation distance", "below", "the highest", m => m.GenerationDistance,
            Numbers.General, Numbers.Difference, MetricScope.AllModels),
        new("parameters", "the fewest parameters", "fewer than", "the largest", m => m.Parameters,
            Count, Count, MetricScope.AllModels),
        new("training time", "the shortest training time", "less than", "the longest", m => m.TrainingSeconds,
            Numbers.Duration, Numbers.Duration, MetricScope.AllModels),
    ];

    private static Metric Loss(string name, Func<ModelResult, double> value, MetricScope scope) =>
        new(name, $"the lowest {name}", "below", "the highest", value, Numbers.Nats, Numbers.Difference, scope);

    private static string Count(double value) => Numbers.Count((long)Math.Round(value));
}
