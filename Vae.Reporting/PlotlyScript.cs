using System.Reflection;

namespace Vae.Reporting;

/// <summary>plotly.js as Plotly.NET ships it, embedded in its assembly, so that the HTML report inlines it and
/// works offline.</summary>
internal static class PlotlyScript
{
    private static readonly Lazy<(string Version, string Source)> Script = new(Load);

    /// <summary>The minified source of plotly.js, safe to put inside a <c>script</c> element.</summary>
    public static string Source => Script.Value.Source;

    /// <summary>The version of plotly.js, e.g. "2.28.0".</summary>
    public static string Version => Script.Value.Version;

    private static (string, string) Load()
    {
        var assembly = typeof(Plotly.NET.GenericChart).Assembly;
        // The resource is named after the plotly.js version, e.g. "Plotly.NET.plotly-2.28.0.min.js".
        var name = assembly.GetManifestResourceNames()
                       .FirstOrDefault(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException($"{assembly.GetName().Name} {assembly.GetName().Version} embeds no plotly-*.min.js");
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        var version = name["Plotly.NET.plotly-".Length..^".min.js".Length];
        return (version, Html.ScriptSafe(reader.ReadToEnd()));
    }
}
