using System.Text;

namespace Vae.Reporting;

/// <summary>Draws the report's blocks as one HTML page that works offline: plotly.js inlined once in the head,
/// the PNGs as relative links, a table of contents from the section headings.</summary>
internal static class HtmlRenderer
{
    private const string Style = """
        body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 24px 48px; color: #222; line-height: 1.45; }
        h1 { margin-top: 28px; } h2 { margin-top: 48px; border-bottom: 2px solid #ddd; padding-bottom: 4px; } h3 { margin-top: 32px; }
        nav { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 8px 16px; } nav ul { margin: 4px 0; }
        .callout { background: #fff5d6; border-left: 6px solid #e0a800; padding: 10px 16px; }
        .table-wrap { overflow-x: auto; }
        table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
        th, td { border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; }
        th { background: #f6f8fa; } td:nth-child(-n+2) { white-space: nowrap; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        figure { margin: 12px 0; } figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 13px; color: #555; }
        /* A caption wraps at its picture's width instead of widening the figure, so that the pictures of a row sit side by side. */
        figcaption { width: 0; min-width: 100%; }
        .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; } .row figure { flex: 0 1 auto; }
        .chart { margin: 8px 0 24px; overflow-x: auto; }
        code { background: #f0f0f0; padding: 1px 4px; }
        """;

    /// <summary>The HTML page of <paramref name="blocks"/>, titled <paramref name="title"/>.</summary>
    public static string Render(string title, IReadOnlyList<Block> blocks)
    {
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Html.Encode(title)).Append("</title>\n")
            .Append("<style>\n").Append(Style).Append("</style>\n")
            .Append($"<!-- plotly.js {Html.Encode(PlotlyScript.Version)} (MIT licence), inlined from Plotly.NET so that this page works offline -->\n")
            .Append("<script type=\"text/javascript\">").Append(PlotlyScript.Source).Append("</script>\n")
            .Append("</head>\n<body>\n");

        var contentsWritten = false;
        foreach (var block in blocks)
        {
            // The contents go before the first experiment's section.
            if (!contentsWritten && block is Heading { Level: 2 })
            {
                page.Append(Contents(blocks));
                contentsWritten = true;
            }
            page.Append(Block(block));
        }
        page.Append("</body>\n</html>\n");
        return page.ToString();
    }

    private static string Contents(IReadOnlyList<Block> blocks)
    {
        var text = new StringBuilder("<nav><strong>Contents</strong>\n<ul>\n");
        var open = false;
        foreach (var heading in blocks.OfType<Heading>().Where(h => h.Level is 2 or 3))
        {
            if (heading.Level == 2)
            {
                if (open) text.Append("</ul></li>\n");
                text.Append($"<li><a href=\"#{heading.Anchor}\">{Html.Encode(heading.Text)}</a><ul>\n");
                open = true;
            }
            else if (open)
                text.Append($"<li><a href=\"#{heading.Anchor}\">{Html.Encode(heading.Text)}</a></li>\n");
        }
        if (open) text.Append("</ul></li>\n");
        return text.Append("</ul></nav>\n").ToString();
    }

    private static string Block(Block block) => block switch
    {
        Heading h => $"<h{h.Level} id=\"{h.Anchor}\">{Html.Encode(h.Text)}</h{h.Level}>\n",
        Paragraph p => $"<p>{Spans(p.Spans)}</p>\n",
        Callout c => $"<p class=\"callout\">{Spans(c.Spans)}</p>\n",
        BulletList list => "<ul>\n" + string.Concat(list.Items.Select(i => $"<li>{Spans(i)}</li>\n")) + "</ul>\n",
        Table table => TableHtml(table),
        Picture picture => Figure(picture),
        PictureRow row => "<div class=\"row\">\n" + string.Concat(row.Pictures.Select(Figure)) + "</div>\n",
        InteractiveChart chart => $"<div class=\"chart\">{chart.Html}</div>\n",
        _ => throw new NotSupportedException($"no HTML for {block.GetType().Name}"),
    };

    private static string TableHtml(Table table)
    {
        var text = new StringBuilder("<div class=\"table-wrap\"><table>\n<thead><tr>");
        foreach (var column in table.Columns) text.Append("<th>").Append(Html.Encode(column.Header)).Append("</th>");
        text.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in table.Rows)
        {
            text.Append("<tr>");
            for (var i = 0; i < row.Count; i++)
                text.Append(table.Columns[i].Numeric ? "<td class=\"num\">" : "<td>").Append(Spans([row[i]])).Append("</td>");
            text.Append("</tr>\n");
        }
        return text.Append("</tbody>\n</table></div>\n").ToString();
    }

    private static string Figure(Picture picture) => picture.Interactive
        ? $"<p class=\"file\">{Html.Encode(picture.Caption)}: the interactive chart below; as a picture, "
          + $"<a href=\"{Html.Encode(Html.Url(picture.Path))}\"><code>{Html.Encode(picture.Path)}</code></a>.</p>\n"
        : $"<figure><img src=\"{Html.Encode(Html.Url(picture.Path))}\" alt=\"{Html.Encode(picture.Caption)}\" loading=\"lazy\">"
        + $"<figcaption>{Html.Encode(picture.Caption)} (<code>{Html.Encode(picture.Path)}</code>)</figcaption></figure>\n";

    private static string Spans(IEnumerable<Span> spans) => string.Concat(spans.Select(Span));

    private static string Span(Span span)
    {
        var text = Html.Encode(span.Text);
        if (span.Code) text = $"<code>{text}</code>";
        if (span.Strong) text = $"<strong>{text}</strong>";
        if (span.Href is not null) text = $"<a href=\"{Html.Encode(Html.Url(span.Href))}\">{text}</a>";
        return text;
    }
}
