using System.Globalization;
using System.Text;
using NativeConv.Layers;
using NativeConv.Tensors;

namespace NativeConv.Experiments.Reports;

/// <summary>
/// A model's architecture as a Mermaid flowchart, generated from the model object (its layers in forward order, with
/// <see cref="ModelSummary"/>'s output shapes and parameter counts): one node per layer saying what it is, its output
/// shape (N = the batch) and its parameters. report.md shows it in a ```mermaid block (GitHub and most viewers draw it).
/// </summary>
public static class ArchitectureDiagram
{
    /// <summary>The flowchart of <paramref name="model"/> for a batch input shape (N, ...), e.g. ModelZoo.BatchInputShape(name, 1) — without the fence.</summary>
    public static string Mermaid(Module model, Shape batch)
    {
        var rows = ModelSummary.Rows(model, batch);
        var leaves = Pictures.Leaves(model);
        var text = new StringBuilder();
        text.Append("flowchart TD\n");
        text.Append(CultureInfo.InvariantCulture, $"  input[\"input<br/>{Format(batch)}\"]\n");
        string previous = "input";
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            string id = "n" + (i + 1).ToString(CultureInfo.InvariantCulture);
            string what = i < leaves.Count ? Describe(leaves[i]) : row.Type;
            text.Append(CultureInfo.InvariantCulture,
                $"  {id}[\"{Escape(row.Name)}: {what}<br/>{Format(row.OutputShape)}<br/>{Markdown.Count(row.Parameters)} params\"]\n");
            text.Append(CultureInfo.InvariantCulture, $"  {previous} --> {id}\n");
            previous = id;
        }
        return text.ToString();
    }

    /// <summary>"(N, 16, 28, 28)": a shape with its batch axis written N.</summary>
    public static string Format(Shape shape)
    {
        var parts = new string[shape.Rank];
        parts[0] = "N";
        for (int i = 1; i < parts.Length; i++) parts[i] = shape[i].ToString(CultureInfo.InvariantCulture);
        return "(" + string.Join(", ", parts) + ")";
    }

    /// <summary>What a layer is, in a few words ("Conv2D 3×3, 1→16").</summary>
    public static string Describe(Module layer) => layer switch
    {
        Conv2D c => string.Create(CultureInfo.InvariantCulture, $"Conv2D {c.Kernel}×{c.Kernel}, {c.InChannels}→{c.OutChannels}{(c.Stride != 1 ? $", stride {c.Stride}" : "")}"),
        Dense d => string.Create(CultureInfo.InvariantCulture, $"Dense {d.InFeatures}→{d.OutFeatures}"),
        MaxPool2D p => string.Create(CultureInfo.InvariantCulture, $"MaxPool2D {p.Pool}×{p.Pool}"),
        Dropout d => string.Create(CultureInfo.InvariantCulture, $"Dropout {d.Rate:0.##}"),
        _ => layer.GetType().Name,
    };

    // Mermaid's quoted labels end at a double quote; '#' starts an entity code.
    private static string Escape(string text) => text.Replace("\"", "#quot;", StringComparison.Ordinal);
}
