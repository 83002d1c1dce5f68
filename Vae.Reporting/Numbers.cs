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

    /// <summary>A percentage with one decimal: "1.3 %"; "&lt; 0.1 %" for a non-zero one that would print as 0.0.</summary>
    public static string Percent(double percent) =>
        !Finite(percent) ? "n/a" : percent != 0.0 && Math.Abs(percent) < 0.05 ? "< 0.1 %" : percent.ToString("F1", Invariant) + " %";

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

    /// <summary>The report's one precision rule for a number known to ± <paramref name="spread"/>: the decimals that
    /// show the spread with two significant digits (0.5 → 2: "0.50"; 1.29 → 1: "1.3"; 12.3 → 0: "12"); the mean is
    /// written to the same decimal. Null for no spread (zero, or not finite).</summary>
    public static int? SpreadDecimals(double spread)
    {
        if (!Finite(spread) || spread == 0.0) return null;
        var decimals = 1 - (int)Math.Floor(Math.Log10(Math.Abs(spread)));
        // 0.0996 rounds to 0.100 at 3 decimals: three digits; 0.10 at 2 decimals shows it with two.
        if (Math.Round(Math.Abs(spread), Math.Clamp(decimals, 0, 15)) >= Math.Pow(10, 2 - decimals)) decimals--;
        return Math.Clamp(decimals, 0, 12);
    }

    /// <summary>A summary over repeats by the one precision rule, "238.04 ± 0.63", "7.6 ± 1.2": the standard deviation
    /// times <paramref name="scale"/> with two significant digits, the mean times <paramref name="scale"/> to the same
    /// decimal, then <paramref name="unit"/>; without a spread (one repeat, or repeats that agree exactly) the mean as
    /// <paramref name="value"/> writes it (and "± 0" after it when there were several repeats).</summary>
    public static string MeanSd(MetricSummary summary, Func<double, string> value, string unit = "", double scale = 1)
    {
        if (summary.Count < 2) return value(summary.Mean) + unit;
        return SpreadDecimals(scale * summary.Std) is { } decimals
            ? $"{Fixed(scale * summary.Mean, decimals)} ± {Fixed(scale * summary.Std, decimals)}{unit}"
            : $"{value(summary.Mean)} ± 0{unit}";
    }

    /// <summary>The difference of two summaries' means by the one precision rule: to the decimals of the smaller spread
    /// of the two ("3.20" between 250.10 ± 0.60 and 253.30 ± 0.70); as <paramref name="fallback"/> writes it when
    /// neither has a spread.</summary>
    public static string DifferenceOf(MetricSummary a, MetricSummary b, double difference, Func<double, string> fallback) =>
        ComparisonDecimals(a, b) is { } decimals ? Fixed(difference, decimals) : fallback(difference);

    /// <summary>The decimals of a comparison of <paramref name="a"/> with <paramref name="b"/>, by the one precision
    /// rule: two significant digits of the smaller spread, then more (at most four) only while the difference of the
    /// means would print as 0 or the unequal means would print equal. Null when neither has a spread.</summary>
    public static int? ComparisonDecimals(MetricSummary a, MetricSummary b, double scale = 1)
    {
        var spreads = new[] { a, b }.Where(s => s.Count > 1).Select(s => SpreadDecimals(scale * s.Std)).OfType<int>().ToList();
        if (spreads.Count == 0) return null;
        var start = spreads.Max();
        var (ma, mb) = (scale * a.Mean, scale * b.Mean);
        bool Consistent(int d) =>
            ma == mb || (Math.Round(Math.Abs(ma - mb), d) > 0 && Fixed(ma, d) != Fixed(mb, d));
        return Enumerable.Range(start, 5).Where(d => d <= 12).FirstOrDefault(Consistent, Math.Min(start + 4, 12));
    }

    /// <summary>A summary at <paramref name="decimals"/> decimals ("238.000 ± 0.020"), or as <see cref="MeanSd"/> writes
    /// it when <paramref name="decimals"/> is null.</summary>
    public static string MeanSdAt(MetricSummary summary, int? decimals, Func<double, string> value, string unit = "", double scale = 1) =>
        decimals is { } d && summary.Count > 1
            ? $"{Fixed(scale * summary.Mean, d)} ± {Fixed(scale * summary.Std, d)}{unit}"
            : decimals is { } e && Finite(summary.Mean) && summary.Count == 1 ? Fixed(scale * summary.Mean, e) + unit
            : MeanSd(summary, value, unit, scale);

    /// <summary>A summary of durations by the one precision rule below 100 s ("18.0 ± 1.0 s"), as durations above
    /// ("12 min 05 s ± 14.0 s"); the mean alone for a single repeat.</summary>
    public static string Durations(MetricSummary summary) =>
        summary.Count < 2 ? Duration(summary.Mean)
        : Math.Abs(summary.Mean) < 99.95 ? MeanSd(summary, Duration, " s")
        : $"{Duration(summary.Mean)} ± {Duration(summary.Std)}";

    /// <summary>An accuracy summary as percentages: "81.2 ± 0.4 %".</summary>
    public static string Accuracy(MetricSummary summary) =>
        MeanSd(summary, v => Finite(v) ? (100 * v).ToString("F1", Invariant) : "n/a", " %", 100);

    /// <summary>Neither NaN nor infinite.</summary>
    public static bool Finite(double value) => double.IsFinite(value);
}
