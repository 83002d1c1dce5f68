namespace Vae.Reporting;

/// <summary>A run of text inside a paragraph, list item or table cell.</summary>
/// <param name="Text">The words, unescaped.</param>
/// <param name="Strong">Bold.</param>
/// <param name="Code">Set in a monospace font (file names).</param>
/// <param name="Href">A relative link target, unescaped.</param>
internal sealed record Span(string Text, bool Strong = false, bool Code = false, string? Href = null)
{
    /// <summary>Plain text.</summary>
    public static implicit operator Span(string text) => new(text);
}

/// <summary>One piece of the report. The Markdown and HTML renderers draw the same blocks, so the two reports
/// cannot say different things.</summary>
internal abstract record Block;

/// <summary>A section heading; <paramref name="Anchor"/> is its id in the HTML page.</summary>
internal sealed record Heading(int Level, string Text, string Anchor) : Block;

/// <summary>A paragraph.</summary>
internal sealed record Paragraph(IReadOnlyList<Span> Spans) : Block
{
    /// <summary>A paragraph of spans.</summary>
    public Paragraph(params Span[] spans) : this((IReadOnlyList<Span>)spans) { }
}

/// <summary>A highlighted warning, e.g. that the run is a quick smoke test.</summary>
internal sealed record Callout(IReadOnlyList<Span> Spans) : Block;

/// <summary>A bulleted list; each item is a sentence made of spans.</summary>
internal sealed record BulletList(IReadOnlyList<IReadOnlyList<Span>> Items) : Block;

/// <summary>A table column: its header and whether its cells are numbers (right-aligned).</summary>
internal sealed record Column(string Header, bool Numeric);

/// <summary>A table; every row has one cell per column.</summary>
internal sealed record Table(IReadOnlyList<Column> Columns, IReadOnlyList<IReadOnlyList<Span>> Rows) : Block;

/// <summary>A PNG picture, by its path relative to the run folder. <paramref name="Interactive"/>: an interactive chart
/// of the same figure follows, which the HTML page shows instead (with a link to the PNG), so each figure appears once.</summary>
internal sealed record Picture(string Path, string Caption, bool Interactive = false) : Block;

/// <summary>Pictures shown side by side in HTML and one after another in Markdown.</summary>
internal sealed record PictureRow(IReadOnlyList<Picture> Pictures) : Block;

/// <summary>An interactive Plotly chart: its div and script. Only the HTML page shows it.</summary>
internal sealed record InteractiveChart(string Html) : Block;
