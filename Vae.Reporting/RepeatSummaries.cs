namespace Vae.Reporting;

/// <summary>A model's numbers over its repeats (each trained with its own seed): the façade's own summary of a
/// metric when it gives one, else the mean and sample standard deviation of the repeats' values, worked out the
/// same way (standard deviation 0 for one repeat).</summary>
internal static class RepeatSummaries
{
    /// <summary>The summary of the metric <paramref name="key"/> (a key of <see cref="ModelResult.Summary"/>) or,
    /// when the façade did not summarise it, of <paramref name="value"/> over the repeats.</summary>
    public static MetricSummary Of(ModelResult model, string? key, Func<RepeatResult, double> value) =>
        key is not null && model.Summary.TryGetValue(key, out var summary) ? summary : Of(model, value);

    /// <summary>Mean and sample standard deviation of <paramref name="value"/> over the model's repeats.</summary>
    public static MetricSummary Of(ModelResult model, Func<RepeatResult, double> value)
    {
        var values = model.Repeats.Select(value).ToArray();
        if (values.Length == 0) return new MetricSummary(double.NaN, 0, 0);
        var mean = values.Average();
        var std = values.Length < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
        return new MetricSummary(mean, std, values.Length);
    }

    /// <summary>The mean best validation loss: the run's criterion for the best model.</summary>
    public static double ValidationLoss(ModelResult model) => Of(model, "valLoss", r => r.Best.ValLoss).Mean;

    /// <summary>True when the model was trained more than once, so that its numbers have a spread.</summary>
    public static bool Repeated(ModelResult model) => model.Repeats.Count > 1;

    /// <summary>True when every repeat gives the same value (the PCA yardstick does not depend on the seed).</summary>
    public static bool Constant(ModelResult model, Func<RepeatResult, double> value) =>
        model.Repeats.Select(value).Distinct().Count() <= 1;
}
