using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using NativeConv.Tensors.Storage;

namespace NativeConv.Tensors.Backends.Cpu;

/// <summary>
/// The managed SIMD engine: host memory from a pool, kernels in span code (Vector512 where the CPU has AVX-512, Vector256
/// otherwise), parallelised through <see cref="ParallelFor"/>. This is the reference every other backend is tested against.
/// The kernel families live in the partial files beside this one (CpuBackend.Gemm.cs, CpuBackend.Conv.cs, ...).
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    private readonly StoragePool<HostStorage> _pool = new();

    private CpuBackend() { }

    public string Name => $"cpu ({SimdDescription}, {ParallelFor.ThreadCount} thread{(ParallelFor.ThreadCount == 1 ? "" : "s")})";

    /// <summary>Compiles a network for forward passes on this engine (<see cref="Inference.CpuInferenceProgram"/>).</summary>
    public NativeConv.Tensors.Inference.IInferenceProgram CompileInference(IReadOnlyList<NativeConv.Tensors.Inference.InferenceLayer> layers,
        Shape sampleShape, NativeConv.Tensors.Inference.InferenceOptions? options = null) =>
        new Inference.CpuInferenceProgram(layers, sampleShape, options ?? NativeConv.Tensors.Inference.InferenceOptions.Default);

    public DeviceKind Kind => DeviceKind.Cpu;

    /// <summary>The widest vector path the kernels take on this machine (<see cref="SimdPath"/>: "AVX2", "Vector128 (NEON)", ...).</summary>
    public static string SimdDescription => SimdPath.Current;

    /// <summary>Bytes of host memory held in the pool for reuse.</summary>
    public long PooledBytes => _pool.BytesRetained;

    /// <summary>Frees every pooled buffer.</summary>
    public void TrimPool() => _pool.Trim();

    // ---------------------------------------------------------------- memory

    public TensorStorage Allocate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        return _pool.TryRent(length, out var storage) ? storage : new HostStorage(this, length);
    }

    public void Release(TensorStorage storage)
    {
        if (storage is not HostStorage host || !ReferenceEquals(storage.Backend, this))
            throw new ArgumentException($"CpuBackend.Release: the storage belongs to {storage.Backend.Name}, not to this CPU backend.");
        _pool.Return(host);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination) => source.CopyTo(destination.Span);

    public void Download(Tensor source, Span<float> destination) => source.ReadOnlySpan.CopyTo(destination);

    public void Synchronize() { }

    // ---------------------------------------------------------------- elementwise basics

    public void Fill(Tensor t, float value) => t.Span.Fill(value);

    public void Copy(Tensor source, Tensor destination) => source.ReadOnlySpan.CopyTo(destination.Span);

    // y += alpha·x, one fused multiply-add per element.
    public void Axpy(float alpha, Tensor x, Tensor y) => TensorPrimitives.MultiplyAdd(x.Span, alpha, y.Span, y.Span);
}
