using System.Text;

namespace Vae.Reporting;

/// <summary>Draws the report's blocks as GitHub-flavoured Markdown; pictures are relative links, interactive
/// charts are left to the HTML page.</summary>
internal static class MarkdownRenderer
{
    /// <summary>The Markdown text of <paramref name="blocks"/>.</summary>
    public static string Render(IReadOnlyList<Block> blocks)
    {
        var text = new StringBuilder();
        foreach (var block in blocks)
        {
            switch (block)
            {
                case Heading h:
                    text.Append('#', h.Level).Append(' ').Append(Escape(h.Text)).Append("\n\n");
                    break;
                case Paragraph p:
                    text.Append(Spans(p.Spans)).Append("\n\n");
                    break;
                case Callout c:
                    text.Append("> ").Append(Spans(c.Spans)).Append("\n\n");
                    break;
                case BulletList list:
                    foreach (var item in list.Items) text.Append("- ").Append(Spans(item)).Append('\n');
                    text.Append('\n');
                    break;
                case Table table:
                    text.Append(TableText(table)).Append('\n');
                    break;
                case Picture picture:
                    text.Append(Image(picture)).Append("\n\n");
                    break;
                case PictureRow row:
                    text.Append(string.Join(" ", row.Pictures.Select(Image))).Append("\n\n");
                    break;
                case InteractiveChart:
                    break;
                default:
                    throw new NotSupportedException($"no Markdown for {block.GetType().Name}");
            }
        }
        return text.ToString().TrimEnd() + "\n";
    }

    private static string TableText(Table table)
    {
        var text = new StringBuilder();
        text.Append("| ").Append(string.Join(" | ", table.Columns.Select(c => Escape(c.Header)))).Append(" |\n");
        text.Append('|').Append(string.Join("|", table.Columns.Select(c => c.Numeric ? " ---: " : " --- "))).Append("|\n");
        foreach (var row in table.Rows)
            text.Append("| ").Append(string.Join(" | ", row.Select(cell => Spans([cell])))).Append(" |\n");
        return text.ToString();
    }

    private static string Image(Picture picture) => $"![{Escape(picture.Caption)}]({Html.Url(picture.Path)})";

    private static string Spans(IEnumerable<Span> spans) => string.Concat(spans.Select(Span));

    private static string Span(Span span)
    {
        if (span.Text.Length == 0) return "";
        var text = span.Code ? Code(span.Text) : Escape(span.Text);
        if (span.Strong) text = $"**{text}**";
        if (span.Href is not null) text = $"[{text}]({Html.Url(span.Href)})";
        return text;
    }

    /// <summary>Text with every character Markdown could read as markup backslash-escaped; "|" too, for tables.</summary>
    internal static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (@"\`*_[]<>|#".Contains(c)) escaped.Append('\\');
            escaped.Append(c);
        }
        return escaped.ToString();
    }

    /// <summary>A code span, fenced with more backticks than it contains; "|" escaped for tables.</summary>
    private static string Code(string text)
    {
        var fence = new string('`', text.Split('`').Length);
        return $"{fence}{(text.StartsWith('`') ? " " : "")}{text.Replace("|", "\\|")}{(text.EndsWith('`') ? " " : "")}{fence}";
    }
}
