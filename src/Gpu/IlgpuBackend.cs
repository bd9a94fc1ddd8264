using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Storage;

namespace NativeConv.Gpu;

/// <summary>
/// The kernel set of <see cref="IBackend"/> on one ILGPU accelerator (CUDA, OpenCL, or ILGPU's CPU accelerator).
/// One stream per accelerator — its default stream, on which the Load*StreamKernel delegates launch (kernels run in queue
/// order, so results never race and a scratch buffer may go back to the pool right after its last launch); device buffers
/// pooled by exact length; every kernel compiled and loaded once, on first use, and cached for the life of the backend.
/// Group sizes are derived from the accelerator (MaxNumThreadsPerGroup, WarpSize), never assumed.
/// The kernel families live in the partial files beside this one (IlgpuBackend.Gemm.cs, IlgpuBackend.Conv.cs, ...).
/// Create one with <see cref="GpuDevices.CreateBackend"/>; dispose it to free the device.
/// </summary>
public sealed partial class IlgpuBackend : IBackend, IDisposable
{
    private readonly Context _context;
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly StoragePool<GpuStorage> _pool = new();
    private readonly object _kernelGate = new();
    private bool _disposed;

    internal IlgpuBackend(Context context, Accelerator accelerator, GpuDeviceInfo device)
    {
        _context = context;
        _accelerator = accelerator;
        _stream = accelerator.DefaultStream;
        Device = device;
        Kind = device.Kind;
        Name = $"{device.Id} ({accelerator.Name})";

        // Reductions: a power of two no larger than 256 threads (one warp's worth of lanes at least, when allowed).
        ReductionGroupSize = FloorPowerOfTwo(Math.Min(accelerator.MaxNumThreadsPerGroup, 256));
        // GEMM: a square group, power-of-two side: 16 × 16 on GPUs, 4 × 4 on the 16-thread CPU accelerator.
        GemmGroupSide = FloorPowerOfTwo((int)Math.Sqrt(Math.Min(accelerator.MaxNumThreadsPerGroup, 256)));
        GemmTileK = 16;
        while (GemmTileK > 1 && (long)Gemm.SharedFloats(GemmGroupSide, GemmGroupSide, GemmTileK) * sizeof(float) > accelerator.MaxSharedMemoryPerGroup)
            GemmTileK /= 2;
    }

    public string Name { get; }

    public DeviceKind Kind { get; }

    /// <summary>What ILGPU reports about this backend's device.</summary>
    public GpuDeviceInfo Device { get; }

    /// <summary>The ILGPU accelerator (for benchmarks and diagnostics).</summary>
    public Accelerator Accelerator => _accelerator;

    /// <summary>Threads per group of the explicitly grouped reduction kernels.</summary>
    public int ReductionGroupSize { get; }

    /// <summary>Side of the square GEMM thread group; a group computes a (4·side)² tile of C.</summary>
    public int GemmGroupSide { get; }

    /// <summary>Depth along K of one shared-memory GEMM tile.</summary>
    public int GemmTileK { get; }

    /// <summary>How many kernels this backend has compiled and loaded (each at most once).</summary>
    public int KernelsLoaded { get; private set; }

    /// <summary>Bytes of device memory held in the pool for reuse.</summary>
    public long PooledBytes => _pool.BytesRetained;

    /// <summary>Frees every pooled device buffer.</summary>
    public void TrimPool() => _pool.Trim(FreeDeviceBuffer);

    private static void FreeDeviceBuffer(GpuStorage storage) => storage.Buffer.Dispose();

    public override string ToString() => Name;

    // ---------------------------------------------------------------- memory

    public TensorStorage Allocate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        ThrowIfDisposed();
        if (_pool.TryRent(length, out var pooled)) return pooled;
        // ILGPU cannot allocate an empty buffer: an empty storage keeps one unused element.
        long elements = Math.Max(length, 1);
        try
        {
            return new GpuStorage(this, _accelerator.Allocate1D<float>(elements), length);
        }
        catch (Exception first) when (IsDeviceError(first))
        {
            // Pooled buffers of other lengths may be what fills the device: free them and try once more.
            long pooledBytes = _pool.BytesRetained;
            _pool.Trim(FreeDeviceBuffer);
            try { return new GpuStorage(this, _accelerator.Allocate1D<float>(elements), length); }
            catch (Exception e) when (IsDeviceError(e))
            {
                throw GpuException.OutOfMemory(Name, $"Allocate({length} floats)", elements * sizeof(float), pooledBytes, e);
            }
        }
    }

    public void Release(TensorStorage storage)
    {
        if (storage is not GpuStorage gpu || !ReferenceEquals(storage.Backend, this))
            throw new ArgumentException($"{Name}: Release was given a storage that belongs to {storage.Backend.Name}, not to this device.");
        if (_disposed) return; // the accelerator already freed it
        _pool.Return(gpu);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"{Name}: Upload of {source.Length} values into tensor {destination} of {destination.Length} elements; lengths must match.");
        if (source.Length == 0) return;
        var view = View(destination);
        try
        {
            view.CopyFromCPU(_stream, source);
            _stream.Synchronize(); // the host span may be reused as soon as we return
        }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, $"Upload host→device of {source.Length} floats into {destination}", e); }
    }

    public void Download(Tensor source, Span<float> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"{Name}: Download of tensor {source} ({source.Length} elements) into {destination.Length} host values; lengths must match.");
        if (destination.Length == 0) return;
        var view = View(source);
        try
        {
            _stream.Synchronize();
            view.CopyToCPU(_stream, destination);
            _stream.Synchronize();
        }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, $"Download device→host of {source} (or a kernel queued before it)", e); }
    }

    public void Synchronize()
    {
        try { _stream.Synchronize(); }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, "Synchronize (a queued kernel)", e); }
    }

    // ---------------------------------------------------------------- elementwise basics

    private Action<Index1D, FloatView, float>? _fill;
    private Action<Index1D, FloatView, FloatView>? _copy;
    private Action<Index1D, float, FloatView, FloatView>? _axpy;

    public void Fill(Tensor t, float value)
    {
        if (t.Length == 0) return;
        var kernel = _fill ??= Load(nameof(Elementwise.Fill), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, float>(Elementwise.Fill));
        Launch(nameof(Fill));
        kernel(t.Length, View(t), value);
    }

    public void Copy(Tensor source, Tensor destination)
    {
        SameLength(nameof(Copy), source, destination);
        if (source.Length == 0) return;
        var kernel = _copy ??= Load(nameof(Elementwise.Copy), a => a.LoadAutoGroupedStreamKernel<Index1D, FloatView, FloatView>(Elementwise.Copy));
        Launch(nameof(Copy));
        kernel(source.Length, View(source), View(destination));
    }

    public void Axpy(float alpha, Tensor x, Tensor y)
    {
        SameLength(nameof(Axpy), x, y);
        if (x.Length == 0) return;
        var kernel = _axpy ??= Load(nameof(Elementwise.Axpy), a => a.LoadAutoGroupedStreamKernel<Index1D, float, FloatView, FloatView>(Elementwise.Axpy));
        Launch(nameof(Axpy));
        kernel(x.Length, alpha, View(x), View(y));
    }

    // ---------------------------------------------------------------- helpers for every kernel family

    /// <summary>The device view of a tensor of this backend (its first Length elements).</summary>
    internal FloatView View(Tensor t)
    {
        if (t.Storage is GpuStorage storage && ReferenceEquals(storage.Backend, this))
            return t.Length == storage.Length ? storage.View : storage.View.SubView(0, t.Length);
        throw new ArgumentException($"{Name}: tensor {t} lives on {t.Backend.Name}, not on this device; move it first (Tensor.Clone(backend)).");
    }

    /// <summary>Compiles and loads a kernel once; later calls return the cached delegate.</summary>
    private T Load<T>(string kernel, Func<Accelerator, T> load) where T : Delegate
    {
        // Callers store the result in a field (`_k ??= Load(...)`), so each kernel is compiled once per backend; ILGPU
        // itself caches compiled kernels per context, so even a racing second load does not compile twice.
        lock (_kernelGate)
        {
            ThrowIfDisposed();
            KernelsLoaded++;
            try { return load(_accelerator); }
            catch (Exception e) when (e is not GpuException) { throw GpuException.CompileFailed(Name, kernel, e); }
        }
    }

    /// <summary>Every launch passes here: a disposed backend fails with a clear message instead of an ILGPU crash.</summary>
    private void Launch(string operation)
    {
        if (_disposed) throw new ObjectDisposedException(Name, $"{Name}: {operation} on a disposed GPU backend.");
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(Name, $"{Name} was disposed.");
    }

    private void SameLength(string op, Tensor a, Tensor b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"{Name}: {op} needs tensors of one length; got {a} and {b}.");
    }

    private static bool IsDeviceError(Exception e) => e is AcceleratorException or OutOfMemoryException;

    /// <summary>Number of groups of <paramref name="size"/> needed to cover <paramref name="count"/> items.</summary>
    private static int Groups(int count, int size) => (count + size - 1) / size;

    private static int FloorPowerOfTwo(int value)
    {
        int p = 1;
        while (p * 2 <= value) p *= 2;
        return p;
    }

    public void Dispose()
    {
        if (_disposed) return;
        try { _stream.Synchronize(); } catch (Exception e) when (IsDeviceError(e)) { /* the device is going away anyway */ }
        _disposed = true;
        _pool.Trim(FreeDeviceBuffer);
        _accelerator.Dispose();
        _context.Dispose();
    }
}
