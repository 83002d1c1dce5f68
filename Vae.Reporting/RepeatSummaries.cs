using Microsoft.FSharp.Collections;

namespace Vae.Reporting;

/// <summary>A model's numbers over its repeats (each trained with its own seed): the façade's own summary of a
/// metric when it gives one, else Core.Statistics.summarise of the repeats' values.</summary>
internal static class RepeatSummaries
{
    /// <summary>The summary of <paramref name="metric"/> (<see cref="ModelResult.Summary"/>, made from the core's
    /// measurements through the registry); NaN when the model has no such value (an autoencoder's IWAE NLL).</summary>
    public static MetricSummary Of(ModelResult model, Core.Metrics.Metric metric) =>
        model.Summary.TryGetValue(metric.Key, out var summary) ? summary : new MetricSummary(double.NaN, 0, 0);

    /// <summary>Mean and sample standard deviation of <paramref name="value"/> over the model's repeats.</summary>
    public static MetricSummary Of(ModelResult model, Func<RepeatResult, double> value)
    {
        var values = model.Repeats.Select(value).ToArray();
        return values.Length == 0 ? new MetricSummary(double.NaN, 0, 0) : Core.Statistics.summarise(ListModule.OfSeq(values)).ToResult();
    }

    /// <summary>The mean best validation loss: the run's criterion for the best model.</summary>
    public static double ValidationLoss(ModelResult model) => Of(model, Core.Metrics.validationLoss).Mean;

    /// <summary>True when the model was trained more than once, so that its numbers have a spread.</summary>
    public static bool Repeated(ModelResult model) => model.Repeats.Count > 1;

    /// <summary>True when every repeat gives the same value (the PCA yardstick does not depend on the seed).</summary>
    public static bool Constant(ModelResult model, Func<RepeatResult, double> value) =>
        model.Repeats.Select(value).Distinct().Count() <= 1;
}
