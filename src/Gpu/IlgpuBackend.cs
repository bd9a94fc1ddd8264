using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
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
    private string? _operation; // the public operation whose kernel launches next (for launch-failure messages)

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

    /// <summary>
    /// Test seam: called (when set) just before each device action — allocation, kernel compile, kernel launch, stream
    /// wait, buffer free — with the point and the operation; an exception it throws takes the path a real ILGPU error takes there.
    /// Unset it costs one null check.
    /// </summary>
    internal Action<GpuFaultPoint, string>? FaultInjection { get; set; }

    /// <summary>Frees every pooled device buffer.</summary>
    public void TrimPool()
    {
        if (TrimPoolQuietly() is { } failure) throw GpuException.LaunchFailed(Name, "TrimPool (freeing pooled device buffers)", failure);
    }

    /// <summary>Empties the pool, freeing every buffer; a buffer the driver refuses to free is dropped all the same (so a
    /// broken buffer is never handed out again) and the first such error is returned.</summary>
    private Exception? TrimPoolQuietly()
    {
        Exception? failure = null;
        _pool.Trim(storage =>
        {
            try
            {
                FaultInjection?.Invoke(GpuFaultPoint.Free, $"free {storage.Length} floats");
                storage.Buffer.Dispose();
            }
            catch (Exception e) { failure ??= e; } // any failure: StoragePool.Trim must run to the end and clear every bucket
        });
        return failure;
    }

    public override string ToString() => Name;

    // ---------------------------------------------------------------- memory

    public TensorStorage Allocate(int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        ThrowIfDisposed();
        if (_pool.TryRent(length, out var pooled)) return pooled;
        // ILGPU cannot allocate an empty buffer: an empty storage keeps one unused element.
        long elements = Math.Max(length, 1);
        long bytes = elements * sizeof(float);
        string operation = $"Allocate({length} floats)";
        try
        {
            return new GpuStorage(this, AllocateBuffer(elements, operation), length);
        }
        catch (Exception first) when (IsOutOfMemory(first))
        {
            // Pooled buffers of other lengths may be what fills the device: free them and try once more.
            long pooledBytes = _pool.BytesRetained;
            TrimPoolQuietly();
            try { return new GpuStorage(this, AllocateBuffer(elements, operation), length); }
            catch (Exception e) when (IsOutOfMemory(e)) { throw GpuException.OutOfMemory(Name, operation, bytes, pooledBytes, e); }
            catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, operation, e); }
        }
        // Anything else the driver reports here (a sticky error of an earlier kernel, a lost device) is not a memory problem.
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, operation, e); }
    }

    // Nothing is pooled until the allocation succeeded, so a failed one can never be handed out later.
    private MemoryBuffer1D<float, Stride1D.Dense> AllocateBuffer(long elements, string operation)
    {
        FaultInjection?.Invoke(GpuFaultPoint.Allocate, operation);
        return _accelerator.Allocate1D<float>(elements);
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
        ThrowIfDisposed();
        var view = View(destination);
        try
        {
            view.CopyFromCPU(_stream, source);
            SynchronizeStream("Upload"); // the host span may be reused as soon as we return
        }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, $"Upload host→device of {source.Length} floats into {destination} (or a kernel queued before it)", e); }
    }

    public void Download(Tensor source, Span<float> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"{Name}: Download of tensor {source} ({source.Length} elements) into {destination.Length} host values; lengths must match.");
        if (destination.Length == 0) return;
        ThrowIfDisposed();
        var view = View(source);
        try
        {
            // The first wait surfaces any failure of the kernels queued before (CUDA reports those asynchronously): the
            // copy never starts, so no number computed by a failed kernel reaches the host.
            SynchronizeStream("Download");
            view.CopyToCPU(_stream, destination);
            SynchronizeStream("Download");
        }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, $"Download device→host of {source} (or a kernel queued before it)", e); }
    }

    public void Synchronize()
    {
        ThrowIfDisposed();
        try { SynchronizeStream(nameof(Synchronize)); }
        catch (Exception e) when (IsDeviceError(e)) { throw GpuException.LaunchFailed(Name, "Synchronize (a queued kernel)", e); }
    }

    private void SynchronizeStream(string operation)
    {
        FaultInjection?.Invoke(GpuFaultPoint.Synchronize, operation);
        _stream.Synchronize();
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

    /// <summary>
    /// Compiles and loads a kernel once; later calls return the cached delegate. The delegate handed back is the ILGPU
    /// launcher wrapped in a guard (see <see cref="GuardLaunches{T}"/>), so every launch of every kernel — whichever
    /// partial file calls it — fails as a <see cref="GpuException"/> naming the device and the kernel.
    /// </summary>
    internal T Load<T>(string kernel, Func<Accelerator, T> load, [CallerArgumentExpression(nameof(kernel))] string kernelExpression = "")
        where T : Delegate
    {
        // Callers store the result in a field (`_k ??= Load(...)`), so each kernel is compiled once per backend; ILGPU
        // itself caches compiled kernels per context, so even a racing second load does not compile twice.
        string name = KernelName(kernel, kernelExpression);
        lock (_kernelGate)
        {
            ThrowIfDisposed();
            KernelsLoaded++;
            T launcher;
            try
            {
                FaultInjection?.Invoke(GpuFaultPoint.Compile, name);
                launcher = load(_accelerator);
            }
            catch (Exception e) when (e is not (GpuException or ObjectDisposedException)) { throw GpuException.CompileFailed(Name, name, e); }
            return GuardLaunches(name, launcher);
        }
    }

    /// <summary>
    /// Wraps a loaded launcher: before the launch, the disposed check (and the test fault hook); any exception ILGPU throws
    /// while launching (an invalid configuration, a driver error, a sticky error of an earlier kernel) becomes
    /// <see cref="GpuException"/> naming the kernel and the public operation that launched it. Built once per kernel as an
    /// expression tree so it fits every launcher signature; a launch pays one extra delegate call.
    /// </summary>
    private T GuardLaunches<T>(string kernel, T launcher) where T : Delegate
    {
        var invoke = typeof(T).GetMethod("Invoke") ?? throw new ArgumentException($"{typeof(T)} is not a delegate type.");
        var parameterInfos = invoke.GetParameters();
        var parameters = new ParameterExpression[parameterInfos.Length];
        for (int i = 0; i < parameters.Length; i++) parameters[i] = Expression.Parameter(parameterInfos[i].ParameterType, parameterInfos[i].Name);
        var self = Expression.Constant(this);
        var name = Expression.Constant(kernel);
        var error = Expression.Parameter(typeof(Exception), "error");
        var body = Expression.TryCatch(
            Expression.Block(
                typeof(void),
                Expression.Call(self, Method(nameof(BeforeLaunch)), name),
                Expression.Invoke(Expression.Constant(launcher), parameters),
                Expression.Call(self, Method(nameof(AfterLaunch)))),
            Expression.Catch(
                error,
                Expression.Throw(Expression.Call(self, Method(nameof(LaunchFailed)), name, error)),
                Expression.Call(Method(nameof(IsLaunchError)), error)));
        return Expression.Lambda<T>(body, parameters).Compile();

        static MethodInfo Method(string name) =>
            typeof(IlgpuBackend).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)!;
    }

    private void BeforeLaunch(string kernel)
    {
        ThrowIfDisposed();
        FaultInjection?.Invoke(GpuFaultPoint.Launch, kernel);
    }

    private void AfterLaunch() => _operation = null;

    private GpuException LaunchFailed(string kernel, Exception error)
    {
        string? operation = _operation;
        _operation = null;
        return GpuException.LaunchFailed(Name, operation is null ? $"launching kernel {kernel}" : $"launching kernel {kernel} for {operation}", error);
    }

    // Our own errors (already clear) and use of a disposed backend pass through; everything else from a launch is a failure.
    private static bool IsLaunchError(Exception e) => e is not (GpuException or ObjectDisposedException);

    /// <summary>
    /// "Relu.Forward" from the caller's <c>nameof(Kernels.Relu.Forward)</c>: nameof alone keeps only "Forward", which
    /// several kernel classes share.
    /// </summary>
    private static string KernelName(string kernel, string expression)
    {
        const string NameOf = "nameof(", Namespace = "Kernels.";
        if (!expression.StartsWith(NameOf, StringComparison.Ordinal) || !expression.EndsWith(')')) return kernel;
        string qualified = expression[NameOf.Length..^1].Trim();
        return qualified.StartsWith(Namespace, StringComparison.Ordinal) ? qualified[Namespace.Length..] : qualified;
    }

    /// <summary>Every public kernel entry passes here: a disposed backend fails with a clear message instead of an ILGPU
    /// crash, and a launch failure names this operation as well as the kernel.</summary>
    private void Launch(string operation)
    {
        if (_disposed) throw new ObjectDisposedException(Name, $"{Name}: {operation} on a disposed GPU backend.");
        _operation = operation;
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

    // CudaException.Error is the name of the CUDA error code, CLException.Error the OpenCL code itself.
    private static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException
        or CudaException { Error: nameof(CudaError.CUDA_ERROR_OUT_OF_MEMORY) }
        or CLException { Error: CLError.CL_MEM_OBJECT_ALLOCATION_FAILURE or CLError.CL_OUT_OF_RESOURCES or CLError.CL_OUT_OF_HOST_MEMORY };

    /// <summary>Number of groups of <paramref name="size"/> needed to cover <paramref name="count"/> items.</summary>
    private static int Groups(int count, int size) => (count + size - 1) / size;

    private static int FloorPowerOfTwo(int value)
    {
        int p = 1;
        while (p * 2 <= value) p *= 2;
        return p;
    }

    /// <summary>
    /// Frees the device. Never throws: it runs while the exception that reported a device failure unwinds (a using block),
    /// and must not replace that message. A failure that only shows here cannot have produced wrong numbers: results reach
    /// the host only through Download, which waits for the queued kernels first and throws there.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        try { SynchronizeStream(nameof(Dispose)); } catch (Exception) { /* see above: nothing was read after it */ }
        _disposed = true;
        TrimPoolQuietly();
        try { _accelerator.Dispose(); } catch (Exception) { /* a lost device: nothing left to free */ }
        try { _context.Dispose(); } catch (Exception) { /* idem */ }
    }
}

/// <summary>Where <see cref="IlgpuBackend.FaultInjection"/> is consulted.</summary>
internal enum GpuFaultPoint
{
    /// <summary>Before a device buffer is allocated (operation: "Allocate(N floats)").</summary>
    Allocate,
    /// <summary>Before a kernel is compiled and loaded (operation: the kernel, e.g. "Relu.Forward").</summary>
    Compile,
    /// <summary>Before a kernel is launched (operation: the kernel).</summary>
    Launch,
    /// <summary>Before the host waits for the stream (operation: "Upload", "Download", "Synchronize", "Dispose"); CUDA reports a
    /// failed kernel here, asynchronously.</summary>
    Synchronize,
    /// <summary>Before a pooled device buffer is freed (trimming the pool, disposing).</summary>
    Free,
}
