using System.Globalization;

namespace Vae.Reporting;

/// <summary>CSV as RFC 4180 writes it: fields separated by commas, rows ended by CRLF, a field holding a comma, a
/// quote or a line break quoted with its quotes doubled; numbers in the invariant culture at full precision.</summary>
internal static class Csv
{
    /// <summary>One row: the fields, each quoted when it must be, and the line's end.</summary>
    public static string Row(IEnumerable<string> fields) => string.Join(",", fields.Select(Field)) + "\r\n";

    /// <summary>A field as it is written: quoted, quotes doubled, when it holds a comma, a quote or a line break.</summary>
    public static string Field(string text) =>
        text.IndexOfAny([',', '"', '\r', '\n']) < 0 ? text : "\"" + text.Replace("\"", "\"\"") + "\"";

    /// <summary>The shortest text that reads back as the same double ("R": the value of results.json, bit for bit);
    /// empty for NaN and ±∞ (a diverged loss), as results.json writes null and pandas reads an empty cell as NaN.</summary>
    public static string Number(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>A value a model may not have (an autoencoder's IWAE NLL): empty when it has none.</summary>
    public static string Number(double? value) => value is { } v ? Number(v) : "";

    /// <summary>An integer in the invariant culture.</summary>
    public static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);
}
