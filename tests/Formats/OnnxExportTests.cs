using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using NativeConv.Experiments.Commands;
using NativeConv.Experiments.Data;
using NativeConv.Experiments.Serving;
using NativeConv.Experiments.Training;
using NativeConv.Layers;
using NativeConv.Layers.Formats;
using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Data;
using NativeConv.Tests.Serving;

namespace NativeConv.Tests.Formats;

/// <summary>
/// The ONNX export, checked by ONNX Runtime: every study model's graph gives our logits on real test images (max abs
/// difference ≤ <see cref="Tolerance"/>), a trained CNN the same class on 1,000 images, and a layer ONNX cannot express is
/// refused.
/// </summary>
[Collection(NativeConv.Tests.Layers.EngineSettingsCollection.Name)] // the trained CNN comes from the Trainer (Engine.Threads)
public sealed class OnnxExportTests : IClassFixture<FashionMnistFixture>, IClassFixture<Cifar10Fixture>, IDisposable
{
    /// <summary>
    /// Largest |ours − ONNX Runtime| allowed per logit. Both sum the same products in different orders (im2col/Winograd
    /// GEMM vs MLAS), so float32 rounding differs. Measured here: ≤ 9.6e-7 on the random-init study models (64 images each),
    /// 2.4e-6 on the trained fmnist-cnn (1,000 images).
    /// </summary>
    private const float Tolerance = 1e-4f;

    private readonly Dataset _fashion;
    private readonly Dataset _cifar;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "nativeconv-onnx-" + Guid.NewGuid().ToString("N"));

    public OnnxExportTests(FashionMnistFixture fashion, Cifar10Fixture cifar)
    {
        _fashion = fashion.Test;
        _cifar = cifar.Test;
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<string> StudyModels() => new(ModelZoo.Names);

    private static float[] OurLogits(Module model, ReadOnlySpan<float> images, Shape batchShape, int classes)
    {
        model.Eval();
        var logits = new float[batchShape[0] * classes];
        using var input = Tensor.FromSpan(images, batchShape);
        using (Tape.NoGrad()) model.Forward(input).CopyTo(logits);
        Tape.Current.Reset();
        return logits;
    }

    private static float[] OrtLogits(InferenceSession session, float[] images, long[] shape, int classes)
    {
        var logits = new float[shape[0] * classes];
        using var input = OrtValue.CreateTensorValueFromMemory(images, shape);
        using var output = OrtValue.CreateTensorValueFromMemory(logits, [shape[0], classes]);
        using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
        session.Run(run, [OnnxExporter.InputName], [input], [OnnxExporter.OutputName], [output]);
        return logits;
    }

    private static float MaxAbsDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    [Theory]
    [MemberData(nameof(StudyModels))]
    public void EveryStudyModelsExportGivesOurLogitsInOnnxRuntime(string name)
    {
        var model = ModelZoo.Create(name, seed: 11);
        string weights = Path.Combine(_folder, name + ".safetensors");
        Checkpoint.SaveWeights(weights, model);
        var trained = TrainedModel.Open(weights);
        string onnx = Path.Combine(_folder, name + ".onnx");
        ExportCommand.WriteOnnx(trained, onnx);

        using var session = new InferenceSession(onnx);
        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(name, metadata["model"]);
        Assert.Equal(trained.Dataset, metadata["dataset"]);
        Assert.Equal(trained.ClassNames, JsonSerializer.Deserialize<string[]>(metadata["class_names"]));
        Assert.Equal(Path.GetFullPath(weights), metadata["checkpoint"]);
        Assert.False(string.IsNullOrEmpty(metadata["commit"]));
        var input = Assert.Single(session.InputMetadata);
        Assert.Equal(OnnxExporter.InputName, input.Key);
        var (c, h, w) = trained.InputShape;
        Assert.Equal([-1, c, h, w], input.Value.Dimensions); // -1: the symbolic batch axis
        Assert.Equal(OnnxExporter.OutputName, Assert.Single(session.OutputMetadata).Key);

        var data = c == 1 ? _fashion : _cifar;
        foreach (int batch in new[] { 64, 1 }) // the batch axis is dynamic
        {
            var images = data.Images.AsSpan(500 * data.SampleSize, batch * data.SampleSize).ToArray();
            var ours = OurLogits(model, images, new Shape(batch, c, h, w), 10);
            var theirs = OrtLogits(session, images, [batch, c, h, w], 10);
            float difference = MaxAbsDifference(ours, theirs);
            Assert.True(difference <= Tolerance, $"{name}, batch {batch}: max |ours − ORT| = {difference:E2} > {Tolerance:E0}");
        }
    }

    [Fact]
    public void ATrainedCnnExportedByTheCommandGivesTheSameClassOnAThousandTestImages()
    {
        var trained = TrainedFashionCnn.Instance;
        string onnx = Path.Combine(_folder, "fmnist-cnn.onnx");
        var (code, output, error) = NativeConv.Tests.Support.Cli.Run(["export", "--checkpoint", trained.CheckpointPath, "--format", "onnx", "--out", onnx]);
        Assert.True(code == 0, error);
        Assert.Contains("the checkpoint's best weights", output);

        using var session = new InferenceSession(onnx);
        const int count = 1000;
        var images = trained.Test.Images.AsSpan(0, count * 784).ToArray();
        var ours = TrainedFashionCnn.ReferenceLogits(trained.Model, trained.Test, 0, count);
        var theirs = OrtLogits(session, images, [count, 1, 28, 28], 10);
        float difference = MaxAbsDifference(ours, theirs);
        Assert.True(difference <= Tolerance, $"max |ours − ORT| = {difference:E2}");
        for (int i = 0; i < count; i++)
            Assert.True(TrainedModel.ArgMax(ours.AsSpan(i * 10, 10)) == TrainedModel.ArgMax(theirs.AsSpan(i * 10, 10)), $"image {i}: the classes differ");
    }

    [Fact]
    public void AsymmetricSamePaddingPutsTheExtraRowAndColumnBottomRight()
    {
        // Even kernels and stride 2 need an odd total padding: Keras (and our ConvGeometry) put the extra one at the
        // bottom/right. A wrong split shifts the image by one pixel and changes the logits.
        var model = new Sequential(
            new Conv2D(1, 4, 4), new ReLU(),                  // 28 → 28, pads 1 top/left, 2 bottom/right
            new Conv2D(4, 6, 3, stride: 2), new ReLU(),       // 28 → 14, pads 0 top/left, 1 bottom/right
            new Conv2D(6, 6, 2, padding: Padding.Valid),      // 14 → 13
            new Flatten(), new Dense(6 * 13 * 13, 10));
        model.Name = "asymmetric";
        model.Initialize(5);
        string onnx = Path.Combine(_folder, "asymmetric.onnx");
        File.WriteAllBytes(onnx, OnnxExporter.Export(model, new Shape(1, 28, 28), new Dictionary<string, string>()));
        using var session = new InferenceSession(onnx);
        var images = _fashion.Images.AsSpan(0, 8 * 784).ToArray();
        float difference = MaxAbsDifference(OurLogits(model, images, new Shape(8, 1, 28, 28), 10), OrtLogits(session, images, [8, 1, 28, 28], 10));
        Assert.True(difference <= Tolerance, $"max |ours − ORT| = {difference:E2}");
    }

    /// <summary>A layer no exporter knows.</summary>
    private sealed class Square : Module
    {
        public Square() : base("square") { }
        public override Tensor Forward(Tensor x) => NativeConv.Tensors.Ops.Op.Relu(x); // what it computes does not matter here
        public override Shape OutputShape(Shape input) => input;
    }

    [Fact]
    public void ALayerWithoutAnOnnxMappingIsRefused()
    {
        var model = new Sequential(new Flatten(), new Square(), new Dense(784, 10));
        var e = Assert.Throws<ModelExportException>(() => OnnxExporter.Export(model, new Shape(1, 28, 28), new Dictionary<string, string>()));
        Assert.Contains("layer 'square1' (Square) has no ONNX mapping", e.Message);
        Assert.Contains("nothing was written", e.Message);
        e = Assert.Throws<ModelExportException>(() => TorchStateDict.From(model));
        Assert.Contains("layer 'square1' (Square) has no nn.Sequential twin", e.Message);
    }

    [Fact]
    public void AModelThatEndsInAnImageIsRefused()
    {
        var model = new Sequential(new Conv2D(1, 2, 3));
        var e = Assert.Throws<ModelExportException>(() => OnnxExporter.Export(model, new Shape(1, 28, 28), new Dictionary<string, string>()));
        Assert.Contains("not (N, classes)", e.Message);
    }

    [Fact]
    public void TheExportCommandReportsABadCheckpointInOneLine()
    {
        string bad = Path.Combine(_folder, "bad.safetensors");
        File.WriteAllText(bad, "not a checkpoint");
        string target = Path.Combine(_folder, "never.onnx");
        var (code, _, error) = NativeConv.Tests.Support.Cli.Run(["export", "--checkpoint", bad, "--format", "onnx", "--out", target]);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: Checkpoint '{bad}': not a readable safetensors checkpoint", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.False(File.Exists(target));

        (code, _, error) = NativeConv.Tests.Support.Cli.Run(["export", "--checkpoint", bad, "--format", "tflite", "--out", target]);
        Assert.NotEqual(0, code);
        Assert.Contains("tflite", error);
    }
}
