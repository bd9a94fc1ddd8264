using System.Globalization;
using System.Text;

namespace NativeConv.Experiments.Reports;

/// <summary>Column alignment of a <see cref="MarkdownTable"/>.</summary>
public enum Align { Left, Right, Center }

/// <summary>A GitHub-flavoured markdown table: a header row, an alignment row, then one row per <see cref="AddRow"/>.</summary>
public sealed class MarkdownTable
{
    private readonly string[] _headers;
    private readonly Align[] _align;
    private readonly List<string[]> _rows = new();

    public MarkdownTable(params (string Header, Align Align)[] columns)
    {
        if (columns.Length == 0) throw new ArgumentException("A markdown table needs at least one column.");
        _headers = Array.ConvertAll(columns, c => c.Header);
        _align = Array.ConvertAll(columns, c => c.Align);
    }

    /// <summary>Left-aligned columns.</summary>
    public MarkdownTable(params string[] headers) : this(Array.ConvertAll(headers, h => (h, Align.Left))) { }

    public int RowCount => _rows.Count;

    /// <summary>Adds a row; it must have one cell per column.</summary>
    public MarkdownTable AddRow(params string[] cells)
    {
        if (cells.Length != _headers.Length)
            throw new ArgumentException($"Markdown table row has {cells.Length} cells but the table has {_headers.Length} columns ({string.Join(", ", _headers)}).");
        _rows.Add(cells);
        return this;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        AppendRow(sb, _headers);
        sb.Append('|');
        foreach (var a in _align)
            sb.Append(a switch { Align.Right => "---:|", Align.Center => ":---:|", _ => "---|" });
        sb.Append('\n');
        foreach (var row in _rows) AppendRow(sb, row);
        return sb.ToString();
    }

    private static void AppendRow(StringBuilder sb, string[] cells)
    {
        sb.Append('|');
        foreach (var cell in cells) sb.Append(' ').Append(Markdown.EscapeCell(cell)).Append(" |");
        sb.Append('\n');
    }
}

/// <summary>A markdown document built top to bottom (report.md), saved atomically.</summary>
public sealed class MarkdownDocument
{
    private readonly StringBuilder _text = new();

    public MarkdownDocument Heading(int level, string text)
    {
        if (level is < 1 or > 6) throw new ArgumentOutOfRangeException(nameof(level), level, "Markdown headings are level 1..6.");
        return Block(new string('#', level) + " " + text.ReplaceLineEndings(" "));
    }

    public MarkdownDocument Paragraph(string text) => Block(text);

    public MarkdownDocument Bullets(IEnumerable<string> items)
    {
        var sb = new StringBuilder();
        foreach (var item in items) sb.Append("- ").Append(item.ReplaceLineEndings(" ")).Append('\n');
        return Block(sb.ToString().TrimEnd('\n'));
    }

    public MarkdownDocument Table(MarkdownTable table) => Block(table.ToString().TrimEnd('\n'));

    /// <summary>An image by a path relative to the report (plots live beside report.md).</summary>
    public MarkdownDocument Image(string altText, string relativePath) =>
        Block($"![{altText.Replace("]", "\\]", StringComparison.Ordinal)}]({relativePath.Replace(" ", "%20", StringComparison.Ordinal)})");

    public MarkdownDocument Code(string code, string language = "") => Block($"```{language}\n{code.TrimEnd('\n')}\n```");

    /// <summary>Appends raw markdown as its own block.</summary>
    public MarkdownDocument Block(string markdown)
    {
        if (_text.Length > 0) _text.Append('\n');
        _text.Append(markdown).Append('\n');
        return this;
    }

    public override string ToString() => _text.ToString();

    /// <summary>Writes the document to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToString());
}

/// <summary>Formatting helpers for report text: invariant culture, fixed precision, NaN shown as "—".</summary>
public static class Markdown
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A fraction as a percentage: 0.91234 → "91.23 %".</summary>
    public static string Percent(double fraction, int decimals = 2) =>
        double.IsFinite(fraction) ? (fraction * 100).ToString("F" + decimals, Invariant) + " %" : "—";

    /// <summary>A difference of fractions in percentage points: 0.0312 → "+3.12 pp".</summary>
    public static string PercentagePoints(double difference, int decimals = 2) =>
        double.IsFinite(difference) ? (difference * 100).ToString("+0." + new string('0', decimals) + ";-0." + new string('0', decimals), Invariant) + " pp" : "—";

    /// <summary>A number with fixed decimals: 0.123456 → "0.1235".</summary>
    public static string Number(double value, int decimals = 4) =>
        double.IsFinite(value) ? value.ToString("F" + decimals, Invariant) : "—";

    /// <summary>An integer with thousands separators: 1234567 → "1,234,567".</summary>
    public static string Count(long value) => value.ToString("N0", Invariant);

    /// <summary>Seconds as "12.3 s", or "4 min 05 s" from a minute on.</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return "—";
        if (seconds < 60) return seconds.ToString("F1", Invariant) + " s";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1
            ? $"{(int)t.TotalHours} h {t.Minutes:00} min"
            : $"{(int)t.TotalMinutes} min {t.Seconds:00} s";
    }

    /// <summary>A cell's text with pipes escaped and line breaks flattened, so it cannot break the table.</summary>
    public static string EscapeCell(string text) =>
        text.ReplaceLineEndings(" ").Replace("|", "\\|", StringComparison.Ordinal);
}
