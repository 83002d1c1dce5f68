using System.Globalization;

namespace Vae.Reporting;

/// <summary>How the report writes numbers: invariant culture, and differences with enough digits that two
/// unequal values never print as a difference of 0.</summary>
internal static class Numbers
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A loss in nats per image, one decimal: "250.1".</summary>
    public static string Nats(double value) => Finite(value) ? value.ToString("F1", Invariant) : "n/a";

    /// <summary>A value of any scale with at most four significant digits, no exponent and no trailing zeros:
    /// "0.03125", "0.0375", "41.27", "253.1", "1200".</summary>
    public static string General(double value)
    {
        if (!Finite(value)) return "n/a";
        if (value == 0.0) return "0";
        var magnitude = (int)Math.Floor(Math.Log10(Math.Abs(value)));
        var decimals = Math.Clamp(3 - magnitude, 0, 10);
        var text = value.ToString("F" + decimals.ToString(Invariant), Invariant);
        return text.Contains('.') ? text.TrimEnd('0').TrimEnd('.') : text;
    }

    /// <summary>A non-zero difference with at least two significant digits, or one decimal when that is enough:
    /// "3.2", "0.042".</summary>
    public static string Difference(double value)
    {
        if (!Finite(value)) return "n/a";
        var magnitude = Math.Abs(value);
        if (magnitude >= 0.1 || magnitude == 0.0) return value.ToString("F1", Invariant);
        var decimals = Math.Clamp(1 - (int)Math.Floor(Math.Log10(magnitude)), 2, 12);
        return value.ToString("F" + decimals.ToString(Invariant), Invariant);
    }

    /// <summary>A percentage with one decimal, or two significant digits below 0.1 %: "1.3 %", "0.042 %".</summary>
    public static string Percent(double percent) => Difference(percent) + " %";

    /// <summary>A count with thousands separators: "1,068,820".</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>A duration: "4.37 s", "48.3 s", "12 min 05 s", "1 h 02 min"; a difference below 0.1 s with two
    /// significant digits ("0.033 s").</summary>
    public static string Duration(double seconds)
    {
        if (!Finite(seconds)) return "n/a";
        var magnitude = Math.Abs(seconds);
        if (magnitude < 0.1 && magnitude > 0) return Difference(seconds) + " s";
        if (magnitude < 9.995) return seconds.ToString("F2", Invariant) + " s";
        if (magnitude < 99.95) return seconds.ToString("F1", Invariant) + " s";
        var whole = (long)Math.Round(seconds);
        if (whole < 3600) return $"{whole / 60} min {whole % 60:00} s";
        return $"{whole / 3600} h {whole % 3600 / 60:00} min";
    }

    /// <summary>An accuracy (a fraction) as a percentage with one decimal: "81.2 %".</summary>
    public static string Accuracy(double fraction) => Finite(fraction) ? (100 * fraction).ToString("F1", Invariant) + " %" : "n/a";

    /// <summary>A value with a fixed number of decimals: "0.0412".</summary>
    public static string Fixed(double value, int decimals) =>
        Finite(value) ? value.ToString("F" + Math.Clamp(decimals, 0, 12).ToString(Invariant), Invariant) : "n/a";

    /// <summary>A summary over repeats, "238.0 ± 0.6": the mean as <paramref name="value"/> writes it, the standard
    /// deviation times <paramref name="scale"/> as <see cref="Spread"/> does, then <paramref name="unit"/>; the
    /// mean alone for a single repeat.</summary>
    public static string MeanSd(MetricSummary summary, Func<double, string> value, string unit = "", double scale = 1) =>
        summary.Count > 1 ? $"{value(summary.Mean)} ± {Spread(scale * summary.Std)}{unit}" : value(summary.Mean) + unit;

    /// <summary>A standard deviation: one decimal from 0.1 up ("0.6", "1.0"), else two significant digits without
    /// trailing zeros ("0.042", "0.0007"); "0" when there is no spread.</summary>
    public static string Spread(double value)
    {
        if (!Finite(value)) return "n/a";
        if (value == 0.0) return "0";
        if (Math.Abs(Math.Round(value, 1)) >= 0.1) return value.ToString("F1", Invariant);
        var decimals = Math.Clamp(1 - (int)Math.Floor(Math.Log10(Math.Abs(value))), 2, 12);
        var text = Math.Round(value, decimals).ToString("F" + decimals.ToString(Invariant), Invariant);
        return text.TrimEnd('0').TrimEnd('.');
    }

    /// <summary>A summary of durations: "18.0 s ± 1.00 s"; the mean alone for a single repeat.</summary>
    public static string Durations(MetricSummary summary) =>
        summary.Count > 1 ? $"{Duration(summary.Mean)} ± {Duration(summary.Std)}" : Duration(summary.Mean);

    /// <summary>An accuracy summary as percentages: "81.2 ± 0.4 %".</summary>
    public static string Accuracy(MetricSummary summary) =>
        MeanSd(summary, v => Finite(v) ? (100 * v).ToString("F1", Invariant) : "n/a", " %", 100);

    /// <summary>Neither NaN nor infinite.</summary>
    public static bool Finite(double value) => double.IsFinite(value);
}
