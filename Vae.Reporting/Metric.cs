namespace Vae.Reporting;

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
/// <param name="Summary">The model's value over its repeats: mean and standard deviation.</param>
/// <param name="Format">How the value is printed.</param>
/// <param name="FormatDifference">How a difference of two values is printed.</param>
/// <param name="Scope">Which models are compared with each other.</param>
internal sealed record Metric(
    string Name,
    string Lowest,
    string Below,
    string Highest,
    Func<ModelResult, MetricSummary> Summary,
    Func<double, string> Format,
    Func<double, string> FormatDifference,
    MetricScope Scope)
{
    /// <summary>Every metric of the report's losses table, in its column order.</summary>
    public static readonly IReadOnlyList<Metric> All =
    [
        Loss("training reconstruction", r => r.Best.TrainRecon, MetricScope.AllModels),
        Loss("training KL", r => r.Best.TrainKl, MetricScope.VaesOnly),
        Loss("training loss", r => r.Best.TrainLoss, MetricScope.SameKind),
        Loss("validation reconstruction", r => r.Best.ValRecon, MetricScope.AllModels),
        Loss("validation KL", r => r.Best.ValKl, MetricScope.VaesOnly),
        Loss("validation loss", Core.Metrics.validationLoss, MetricScope.SameKind),
        Loss("test reconstruction", Core.Metrics.testReconstruction, MetricScope.AllModels),
        Loss("test KL", Core.Metrics.testKl, MetricScope.VaesOnly),
        Loss("test loss", Core.Metrics.testLoss, MetricScope.SameKind),
        new("parameters", "the fewest parameters", "fewer than", "the largest", m => new MetricSummary(m.Parameters, 0, 1),
            Count, Count, MetricScope.AllModels),
        // No finding on training time: a time is wall-clock time beside whatever else ran, not a property of the model.
    ];

    /// <summary>The model's value: its mean over repeats.</summary>
    public double Value(ModelResult model) => Summary(model).Mean;

    private static Metric Loss(string name, Func<RepeatResult, double> value, MetricScope scope) =>
        Loss(name, m => RepeatSummaries.Of(m, value), scope);

    private static Metric Loss(string name, Core.Metrics.Metric metric, MetricScope scope) =>
        Loss(name, m => RepeatSummaries.Of(m, metric), scope);

    private static Metric Loss(string name, Func<ModelResult, MetricSummary> summary, MetricScope scope) =>
        new(name, $"the lowest {name}", "below", "the highest", summary, Numbers.Nats, Numbers.Difference, scope);

    private static string Count(double value) => Numbers.Count((long)Math.Round(value));
}
