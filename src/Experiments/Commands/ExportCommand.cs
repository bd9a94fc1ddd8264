using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NativeConv.Experiments.Reports;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Layers.Formats;

namespace NativeConv.Experiments.Commands;

/// <summary>
/// `export --checkpoint PATH --format onnx|safetensors-torch --out FILE [--model NAME]`: a study checkpoint's best weights
/// for another engine — an ONNX graph (<see cref="OnnxExporter"/>) or a safetensors file under the state_dict names and
/// layouts of the model's PyTorch twin (<see cref="TorchStateDict"/>). Both carry the model, dataset, class names, commit
/// and checkpoint as metadata. The file is written atomically; a model the format cannot express writes nothing.
/// </summary>
public static class ExportCommand
{
    public const string OnnxFormat = "onnx";
    public const string TorchFormat = "safetensors-torch";

    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint.safetensors written by a study (or a weights file)", Required = true };
        var format = new Option<string>("--format") { Description = $"{OnnxFormat} (opset {OnnxExporter.Opset}) or {TorchFormat} (the PyTorch twin's state_dict)", Required = true };
        format.AcceptOnlyFromAmong(OnnxFormat, TorchFormat);
        var output = new Option<string>("--out") { Description = "The file to write", Required = true };
        var model = new Option<string?>("--model") { Description = "Refuse a checkpoint of any other model" };
        var command = new Command("export", "Export a trained model: ONNX, or safetensors for its PyTorch twin.") { checkpoint, format, output, model };
        command.SetAction(result =>
        {
            var trained = TrainedModel.Open(result.GetValue(checkpoint)!, result.GetValue(model));
            string path = Path.GetFullPath(result.GetValue(output)!);
            string kind = result.GetValue(format)!;
            long bytes = kind == OnnxFormat ? WriteOnnx(trained, path) : WriteTorch(trained, path);
            CommandIo.Out(result).WriteLine(
                $"Wrote {path} ({bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes): {trained.Name}, {trained.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters, " +
                $"{(trained.FromBestWeights ? "the checkpoint's best weights" : "the file's weights")}, as {(kind == OnnxFormat ? $"ONNX opset {OnnxExporter.Opset}" : "a PyTorch state_dict")}.");
            return 0;
        });
        return command;
    }

    /// <summary>The metadata both formats carry: model, dataset, class names (JSON array), commit, checkpoint path.</summary>
    public static Dictionary<string, string> Metadata(TrainedModel trained) => new(StringComparer.Ordinal)
    {
        ["model"] = trained.Name,
        ["dataset"] = trained.Dataset,
        ["class_names"] = JsonSerializer.Serialize(trained.ClassNames),
        ["commit"] = GitInfo.Commit(),
        ["checkpoint"] = trained.CheckpointPath,
    };

    /// <summary>Writes the ONNX graph of <paramref name="trained"/> to <paramref name="path"/>; returns its size.</summary>
    public static long WriteOnnx(TrainedModel trained, string path)
    {
        var (c, h, w) = trained.InputShape;
        byte[] onnx = OnnxExporter.Export(trained.Model, new NativeConv.Tensors.Shape(c, h, w), Metadata(trained), ModelZoo.Description(trained.Name));
        AtomicFile.WriteAllBytes(path, onnx);
        return onnx.Length;
    }

    /// <summary>Writes the twin's state_dict of <paramref name="trained"/> to <paramref name="path"/> as safetensors ("format": "pt"); returns its size.</summary>
    public static long WriteTorch(TrainedModel trained, string path)
    {
        var file = new SafeTensorsFile();
        foreach (var tensor in TorchStateDict.From(trained.Model)) file.Add(tensor.Name, tensor.Shape, tensor.Data);
        file.Metadata["format"] = "pt"; // what safetensors.torch.save_file writes
        foreach (var (key, value) in Metadata(trained)) file.Metadata[key] = value;
        file.Save(path);
        return new FileInfo(path).Length;
    }
}
