using System.Globalization;

namespace Vae.Reporting;

/// <summary>What a judged metric tells about a model; the verdict's summary groups the metrics by it.</summary>
internal enum Aspect
{
    /// <summary>The run's criterion for the best model: the validation loss.</summary>
    Selection,

    /// <summary>How well test images are reconstructed.</summary>
    Reconstruction,

    /// <summary>How likely the model finds the test images: the negative ELBO and the IWAE estimate.</summary>
    Likelihood,

    /// <summary>How many latent dimensions the encoder uses.</summary>
    LatentUsage,

    /// <summary>How well classifiers on the codes tell the classes apart.</summary>
    FeatureQuality,

    /// <summary>How real generated images look.</summary>
    Generation,

    /// <summary>A metric this report does not know.</summary>
    Other,
}

/// <summary>How a metric's numbers are written.</summary>
internal enum Scale
{
    /// <summary>Nats per image, one decimal.</summary>
    Nats,

    /// <summary>A fraction written as a percentage; differences in percentage points.</summary>
    Accuracy,

    /// <summary>A count: whole numbers, means with one decimal.</summary>
    Count,

    /// <summary>A small distance: three significant digits.</summary>
    Distance,
}

/// <summary>A metric of Core.Metrics as the report writes it: its short name, its aspect and how its numbers are
/// written.</summary>
/// <param name="Key">Its key in results.json, e.g. "testRecon".</param>
/// <param name="ShortName">"test reconstruction", "the IWAE NLL".</param>
/// <param name="Aspect">What it tells.</param>
/// <param name="Scale">How its numbers are written.</param>
/// <param name="VaesOnly">Only VAEs have it (an autoencoder has no KL term, no ELBO, no likelihood estimate).</param>
internal sealed record Measure(string Key, string ShortName, Aspect Aspect, Scale Scale, bool VaesOnly)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The metrics of the results (Core.Metrics.all), as the report writes them.</summary>
    public static readonly IReadOnlyList<Measure> All = Core.Metrics.all.Select(From).ToArray();

    /// <summary>The measure of <paramref name="key"/>; an unknown key is written as a distance under its own name.</summary>
    public static Measure For(string key) =>
        All.FirstOrDefault(m => m.Key == key) ?? new Measure(key, key, Aspect.Other, Scale.Distance, false);

    private static Measure From(Core.Metrics.Metric m) => new(
        m.Key,
        m.ShortName,
        m.Aspect.Tag switch
        {
            Core.Metrics.Aspect.Tags.Selection => Aspect.Selection,
            Core.Metrics.Aspect.Tags.Reconstruction => Aspect.Reconstruction,
            Core.Metrics.Aspect.Tags.Likelihood => Aspect.Likelihood,
            Core.Metrics.Aspect.Tags.LatentUsage => Aspect.LatentUsage,
            Core.Metrics.Aspect.Tags.FeatureQuality => Aspect.FeatureQuality,
            Core.Metrics.Aspect.Tags.Generation => Aspect.Generation,
            _ => Aspect.Other,
        },
        m.Scale.Tag switch
        {
            Core.Metrics.Scale.Tags.Nats => Scale.Nats,
            Core.Metrics.Scale.Tags.Accuracy => Scale.Accuracy,
            Core.Metrics.Scale.Tags.Count => Scale.Count,
            _ => Scale.Distance,
        },
        m.Scope.IsVaesOnly);

    /// <summary>The words of an aspect: "Reconstruction", "Latent usage".</summary>
    public static string Name(Aspect aspect) => aspect switch
    {
        Aspect.Selection => "Selection criterion",
        Aspect.Reconstruction => "Reconstruction",
        Aspect.Likelihood => "Likelihood",
        Aspect.LatentUsage => "Latent usage",
        Aspect.FeatureQuality => "Feature quality",
        Aspect.Generation => "Generation",
        _ => "Other",
    };

    /// <summary>Decimals that show <paramref name="values"/> at this metric's usual precision.</summary>
    public int Decimals(IEnumerable<double> values, bool repeated)
    {
        var finite = values.Where(Numbers.Finite).ToList();
        return Scale switch
        {
            Scale.Nats or Scale.Accuracy => 1,
            Scale.Count => !repeated && finite.All(v => v == Math.Round(v)) ? 0 : 1,
            _ => finite.Count == 0 || finite.Max(Math.Abs) == 0
                ? 2
                : Math.Clamp(2 - (int)Math.Floor(Math.Log10(finite.Max(Math.Abs))), 0, 8),
        };
    }

    /// <summary>A value: "238.0", "81.2 %", "0.0412".</summary>
    public string Value(double value, int decimals) => Number(value, decimals) + Unit;

    /// <summary>A summary: "238.0 ± 0.6", "81.2 ± 0.4 %"; the mean alone for one repeat.</summary>
    public string Summary(MetricSummary summary, int decimals) =>
        summary.Count > 1
            ? $"{Number(summary.Mean, decimals)} ± {Number(summary.Std, decimals)}{Unit}"
            : Value(summary.Mean, decimals);

    /// <summary>A difference: "2.9", "1.4 points".</summary>
    public string Difference(double difference, int decimals) =>
        Number(difference, decimals) + (Scale == Scale.Accuracy ? " points" : "");

    /// <summary>A signed difference for an interval: "−0.4", "2.9" (a minus sign, not a hyphen; "points" after an
    /// accuracy's upper end is left to the sentence).</summary>
    public string Signed(double difference, int decimals) => Number(difference, decimals).Replace("-", "−");

    /// <summary>A number as the sentence prints it (percent for an accuracy), without its unit.</summary>
    public string Number(double value, int decimals) => Numbers.Fixed(Scaled(value), decimals);

    /// <summary>A value in the unit the report prints it in: percent for an accuracy.</summary>
    public double Scaled(double value) => Scale == Scale.Accuracy ? 100 * value : value;

    /// <summary>The number as printed, read back: what a reader can add up.</summary>
    public double Shown(double value, int decimals) =>
        double.TryParse(Number(value, decimals), NumberStyles.Float, Invariant, out var shown) ? shown : double.NaN;

    private string Unit => Scale == Scale.Accuracy ? " %" : "";
}
