using NativeConv.Tensors;

namespace NativeConv.Layers;

/// <summary>One row of a Keras-style model summary.</summary>
/// <param name="Name">Hierarchical layer name ("conv1", or "block1.conv1" inside nested containers).</param>
/// <param name="Type">The module's class name.</param>
/// <param name="OutputShape">Output shape including the batch axis.</param>
/// <param name="Parameters">Parameters owned by the layer itself.</param>
public readonly record struct SummaryRow(string Name, string Type, Shape OutputShape, long Parameters)
{
    /// <summary>The output shape with the batch axis written as <paramref name="batchLabel"/>: "(None, 16, 28, 28)".</summary>
    public string FormatShape(string batchLabel = "None")
    {
        var parts = new string[OutputShape.Rank];
        parts[0] = batchLabel;
        for (int i = 1; i < parts.Length; i++) parts[i] = OutputShape[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "(" + string.Join(", ", parts) + ")";
    }
}

/// <summary>A model's layers with their output shapes and parameter counts, as Keras' model.summary() lists them.</summary>
public static class ModelSummary
{
    /// <summary>
    /// The leaf layers of <paramref name="model"/> in forward order, with output shapes for a batch of
    /// <paramref name="batchInput"/> (N, ...). Only containers that run their children in order (Sequential) are unfolded.
    /// </summary>
    public static IReadOnlyList<SummaryRow> Rows(Module model, Shape batchInput)
    {
        var rows = new List<SummaryRow>();
        Walk(model, batchInput, "", rows, isRoot: true);
        return rows;
    }

    private static Shape Walk(Module module, Shape input, string prefix, List<SummaryRow> rows, bool isRoot)
    {
        if (module is Sequential seq)
        {
            string childPrefix = isRoot ? "" : prefix + module.Name + ".";
            foreach (var layer in seq.Layers) input = Walk(layer, input, childPrefix, rows, isRoot: false);
            return input;
        }
        var output = module.OutputShape(input);
        rows.Add(new SummaryRow(isRoot ? module.Name : prefix + module.Name, module.GetType().Name, output, module.ParameterCount));
        return output;
    }
}
