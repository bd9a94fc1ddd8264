using NativeConv.Tensors.Geometry;

namespace NativeConv.Layers.Formats;

/// <summary>One tensor of a PyTorch state_dict: its key ("0.weight"), shape and row-major float32 elements.</summary>
public sealed record TorchTensor(string Name, int[] Shape, float[] Data);

/// <summary>
/// A model's weights as the <c>state_dict()</c> of its PyTorch twin (bench/peers/pytorch_train_step.py): an
/// <c>nn.Sequential</c> whose modules are indexed 0, 1, 2, ... in forward order, one twin module per layer of ours except
/// GlobalAvgPool2D, which is two there (<c>nn.AdaptiveAvgPool2d(1), nn.Flatten()</c>). Conv2D weights keep their
/// (OC, C, KH, KW) layout (PyTorch's); Dense weights are transposed from our (in, out) to <c>nn.Linear</c>'s (out, in).
/// Keys: "{index}.weight", "{index}.bias", in the twin's parameter order.
/// </summary>
public static class TorchStateDict
{
    /// <summary>The state_dict of the twin of <paramref name="model"/>; <see cref="ModelExportException"/> for a layer the twin cannot express.</summary>
    public static IReadOnlyList<TorchTensor> From(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model is Sequential sequential ? sequential.Layers : [model];
        var tensors = new List<TorchTensor>();
        int index = 0;
        foreach (var layer in layers)
        {
            switch (layer)
            {
                case Conv2D conv:
                    if (!HasSymmetricTorchPadding(conv))
                        throw new ModelExportException($"PyTorch export: layer '{conv.Name}' ({conv.Kernel}×{conv.Kernel}, stride {conv.Stride}, {conv.Padding} padding) needs asymmetric padding, which nn.Conv2d cannot express; nothing was written.");
                    tensors.Add(new TorchTensor($"{index}.weight", Dims(conv.Weight), conv.Weight.Value.ToArray()));
                    if (conv.Bias is not null) tensors.Add(new TorchTensor($"{index}.bias", Dims(conv.Bias), conv.Bias.Value.ToArray()));
                    index++;
                    break;
                case Dense dense:
                    tensors.Add(new TorchTensor($"{index}.weight", [dense.OutFeatures, dense.InFeatures],
                        Transpose(dense.Weight.Value.ToArray(), dense.InFeatures, dense.OutFeatures)));
                    if (dense.Bias is not null) tensors.Add(new TorchTensor($"{index}.bias", Dims(dense.Bias), dense.Bias.Value.ToArray()));
                    index++;
                    break;
                case ReLU or MaxPool2D or Flatten or Dropout:
                    index++;
                    break;
                case GlobalAvgPool2D:
                    index += 2; // nn.AdaptiveAvgPool2d(1), nn.Flatten()
                    break;
                default:
                    throw new ModelExportException(
                        $"PyTorch export: layer '{layer.Name}' ({layer.GetType().Name}) has no nn.Sequential twin in this exporter (it writes Conv2D, ReLU, MaxPool2D, GlobalAvgPool2D, Flatten, Dense and Dropout in a Sequential); nothing was written.");
            }
        }
        return tensors;
    }

    /// <summary>
    /// True when nn.Conv2d's symmetric padding computes what our layer does: "valid", explicit, or "same" with stride 1
    /// and an odd kernel (padding k // 2 on every side).
    /// </summary>
    private static bool HasSymmetricTorchPadding(Conv2D conv) => conv.Padding.Mode switch
    {
        PaddingMode.Same => conv.Stride == 1 && conv.Kernel % 2 == 1,
        _ => true,
    };

    private static int[] Dims(Parameter p)
    {
        var dims = new int[p.Shape.Rank];
        for (int i = 0; i < dims.Length; i++) dims[i] = p.Shape[i];
        return dims;
    }

    /// <summary>(rows, columns) row-major → (columns, rows) row-major.</summary>
    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) result[c * rows + r] = values[r * columns + c];
        return result;
    }
}
