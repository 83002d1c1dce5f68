using System.Net;

namespace Vae.Reporting;

/// <summary>Escaping for the HTML page.</summary>
internal static class Html
{
    /// <summary>Text for an element or an attribute value.</summary>
    public static string Encode(string text) => WebUtility.HtmlEncode(text);

    /// <summary>Script text that cannot end its <c>script</c> element early: "&lt;/" becomes "&lt;\/", which means
    /// the same inside JavaScript strings and regular expressions.</summary>
    public static string ScriptSafe(string script) => script.Replace("</", "<\\/", StringComparison.Ordinal);

    /// <summary>A relative path as a URL: each segment percent-encoded, slashes kept.</summary>
    public static string Url(string relativePath) =>
        string.Join("/", relativePath.Replace('\\', '/').Split('/').Select(Uri.EscapeDataString));
}
