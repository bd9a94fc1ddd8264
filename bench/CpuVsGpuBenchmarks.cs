using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Geometry;

namespace NativeConv.Bench;

/// <summary>
/// Conv2D forward, and forward + backward, on the SIMD CPU engine and on every ILGPU accelerator (see
/// <see cref="BenchDevices"/>), for every convolution of fmnist-cnn, cifar-big (CNN(32,64)) and cifar-extra-big
/// (CNN(64,128)) — 3×3, 'same', stride 1 — at batch 32, 128 and 512. GPU rows come twice: "resident" (tensors stay on the
/// device; the time includes the final synchronisation) and "+transfers" (the input, and dy for the backward, are uploaded
/// from host arrays and the outputs — y, or dx/dW/dBias — downloaded back, as a host-side caller would pay).
/// The backward computes dW and dBias always and dx except for a model's first layer, as in training.
///
/// Without a CUDA or OpenCL device the GPU rows run on ILGPU's CPU accelerator, which emulates the kernels on host threads:
/// that proves the harness and is no speed target (it runs them at a few MFLOP/s), so then the emulator gets the two
/// fmnist-cnn layers at batch <see cref="EmulatorBatch"/> beside CPU rows of the same case, and the CPU rows of every layer run
/// at batch 32 only — the default run finishes in a few minutes on a 2-core machine. On a GPU machine:
///
///   dotnet run -c Release --project bench -- --filter '*CpuVsGpu*' --device cuda
/// </summary>
// A few iterations rank devices that differ by large factors and keep the shared machine free. Attributes, not a job of our
// own, so that a --job or --inProcess given on the command line applies to this class as to the others (it adjusts them).
[WarmupCount(2), IterationCount(5)]
[Config(typeof(WideParameterColumn))]
public class CpuVsGpuBenchmarks
{
    /// <summary>Shows the whole case ("cifar-big/conv3 32→64@16 b128 cuda:0 +transfers") instead of a truncated one.</summary>
    private sealed class WideParameterColumn : ManualConfig
    {
        public WideParameterColumn() => SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(80);
    }


    /// <summary>One measured configuration (a single parameter, so impossible combinations are never generated).</summary>
    public sealed record ConvCase(string Layer, int C, int OC, int Size, int Batch, string Device, bool Transfers)
    {
        public override string ToString() =>
            $"{Layer} {C}→{OC}@{Size} b{Batch} {BenchDevices.Label(Device)}{(Device == "cpu" ? "" : Transfers ? " +transfers" : " resident")}";
    }

    /// <summary>Every convolution of the three models: (name, in channels, out channels, image side).</summary>
    public static readonly (string Name, int C, int OC, int Size)[] StudyLayers =
    [
        ("fmnist-cnn/conv1", 1, 16, 28), ("fmnist-cnn/conv2", 16, 32, 14),
        ("cifar-big/conv1", 3, 32, 32), ("cifar-big/conv2", 32, 32, 32), ("cifar-big/conv3", 32, 64, 16),
        ("cifar-big/conv4", 64, 64, 16), ("cifar-big/conv5", 64, 128, 8),
        ("cifar-extra-big/conv1", 3, 64, 32), ("cifar-extra-big/conv2", 64, 64, 32), ("cifar-extra-big/conv3", 64, 128, 16),
        ("cifar-extra-big/conv4", 128, 128, 16), ("cifar-extra-big/conv5", 128, 256, 8),
    ];

    /// <summary>Batch of the emulator rows: ILGPU's CPU accelerator runs these kernels at a few MFLOP/s (a batch-32 forward of
    /// cifar-big/conv1 takes ~13 s), so it gets the two fmnist-cnn layers at batch 2, beside CPU rows of the same case.</summary>
    public const int EmulatorBatch = 2;

    public static IEnumerable<ConvCase> Cases()
    {
        var gpus = BenchDevices.GpuIds();
        bool emulatedOnly = gpus.All(BenchDevices.IsEmulator);
        int[] batches = emulatedOnly ? [32] : [32, 128, 512];
        foreach (var (name, c, oc, size) in StudyLayers)
        {
            if (emulatedOnly && name.StartsWith("fmnist-cnn/", StringComparison.Ordinal))
            {
                yield return new ConvCase(name, c, oc, size, EmulatorBatch, "cpu", false);
                foreach (var gpu in gpus)
                {
                    yield return new ConvCase(name, c, oc, size, EmulatorBatch, gpu, false);
                    yield return new ConvCase(name, c, oc, size, EmulatorBatch, gpu, true);
                }
            }
            foreach (int batch in batches)
            {
                yield return new ConvCase(name, c, oc, size, batch, "cpu", false);
                if (emulatedOnly) continue;
                foreach (var gpu in gpus)
                {
                    yield return new ConvCase(name, c, oc, size, batch, gpu, false);
                    yield return new ConvCase(name, c, oc, size, batch, gpu, true);
                }
            }
        }
    }

    [ParamsSource(nameof(Cases))]
    public ConvCase Case { get; set; } = null!;

    private IBackend _backend = null!;
    private ConvGeometry _g;
    private Tensor _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dw = null!, _db = null!;
    private Tensor? _dx;
    private float[] _hostX = null!, _hostDy = null!, _hostY = null!, _hostDx = null!, _hostDw = null!, _hostDb = null!;
    private bool _transfers;

    [GlobalSetup]
    public void Setup()
    {
        _backend = BenchDevices.Backend(Case.Device);
        _transfers = Case.Transfers && Case.Device != "cpu";
        _g = ConvGeometry.Create(new Shape(Case.Batch, Case.C, Case.Size, Case.Size), new Shape(Case.OC, Case.C, 3, 3), 1, 1, Padding.Same);
        var rng = new Random(1);
        _hostX = RandomValues(_g.InputShape.Size, rng);
        _hostDy = RandomValues(_g.OutputShape.Size, rng);
        _x = Tensor.FromArray(_hostX, _g.InputShape, _backend);
        _w = Tensor.FromArray(RandomValues(_g.WeightShape.Size, rng), _g.WeightShape, _backend);
        _b = Tensor.FromArray(RandomValues(Case.OC, rng), new Shape(Case.OC), _backend);
        _dy = Tensor.FromArray(_hostDy, _g.OutputShape, _backend);
        _y = Tensor.Zeros(_g.OutputShape, _backend);
        _dw = Tensor.Zeros(_g.WeightShape, _backend);
        _db = Tensor.Zeros(new Shape(Case.OC), _backend);
        _dx = Case.C > 3 ? Tensor.Zeros(_g.InputShape, _backend) : null; // first layers (1 or 3 channels) need no dx
        _hostY = new float[_g.OutputShape.Size];
        _hostDx = new float[_dx is null ? 0 : _g.InputShape.Size];
        _hostDw = new float[_g.WeightShape.Size];
        _hostDb = new float[Case.OC];
        // Compile and load the kernels before timing (the ILGPU backend does it on first use).
        ForwardBackward();
        Console.WriteLine($"// {Case}: {ConvBenchmarks.GigaFlopsForward(_g):F3} GFLOP forward on {_backend.Name}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _x, _w, _b, _y, _dy, _dw, _db, _dx }) t?.Dispose();
    }

    [Benchmark]
    public void Forward()
    {
        if (_transfers) _backend.Upload(_hostX, _x);
        _backend.Conv2DForward(_x, _w, _b, _y, _g);
        if (_transfers) _backend.Download(_y, _hostY);
        _backend.Synchronize();
    }

    [Benchmark]
    public void ForwardBackward()
    {
        if (_transfers)
        {
            _backend.Upload(_hostX, _x);
            _backend.Upload(_hostDy, _dy);
        }
        _backend.Conv2DForward(_x, _w, _b, _y, _g);
        _backend.Conv2DBackward(_x, _w, _dy, _dx, _dw, _db, _g);
        if (_transfers)
        {
            if (_dx is not null) _backend.Download(_dx, _hostDx);
            _backend.Download(_dw, _hostDw);
            _backend.Download(_db, _hostDb);
        }
        _backend.Synchronize();
    }

    private static float[] RandomValues(int count, Random rng)
    {
        var values = new float[count];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }
}
