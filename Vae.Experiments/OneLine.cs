using System.Text;

namespace Vae.Experiments;

/// <summary>Messages on stderr are one line: text from the user (a name with a newline in it) or from the system is
/// shown with its control characters escaped.</summary>
internal static class OneLine
{
    public static string Of(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var c in message)
            builder.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return builder.ToString();
    }
}
