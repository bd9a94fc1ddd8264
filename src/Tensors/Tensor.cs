using System.Runtime.CompilerServices;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Storage;

namespace NativeConv.Tensors;

/// <summary>
/// A float32 tensor: a shape over contiguous row-major storage on one backend (images NCHW), plus what autograd needs
/// (a gradient and whether one is wanted).
///
/// Lifetime: tensors created by ops during a step are temporaries owned by the current <see cref="Tape"/>; the tape
/// gives their storage (and the tensor objects) back to the pools on <see cref="Tape.Reset"/>, so a training step
/// allocates nothing after the first. Keep a result past the step with <see cref="Clone"/> or <see cref="ToArray"/>.
/// Tensors made with the static factories (parameters, inputs) are persistent and are freed by <see cref="Dispose"/>.
/// </summary>
public sealed class Tensor : IDisposable
{
    private TensorStorage? _storage;

    internal Tensor() { }

    public Shape Shape { get; private set; }

    /// <summary>Number of elements.</summary>
    public int Length => Shape.Size;

    public TensorStorage Storage => _storage ?? throw new ObjectDisposedException(
        nameof(Tensor),
        $"Tensor {Describe()} was released (disposed, or a temporary freed by Tape.Reset()). Clone() what you need to keep across steps.");

    public IBackend Backend => Storage.Backend;

    /// <summary>Whether gradients flow to this tensor (parameters; outputs of ops on such tensors).</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The accumulated gradient, same shape and backend; null until a backward pass reaches this tensor.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>Optional name used in messages and checkpoints (e.g. "conv1.weight").</summary>
    public string? Name { get; set; }

    /// <summary>True for an op's output owned by a tape (freed at <see cref="Tape.Reset"/>).</summary>
    public bool IsTemporary { get; private set; }

    /// <summary>False for a view (reshape) that shares another tensor's storage.</summary>
    internal bool OwnsStorage { get; private set; }

    /// <summary>
    /// The elements, for a tensor in host memory. A device tensor has no span: use <see cref="ToArray"/>. Handing out a
    /// writable span counts as a change (<see cref="Version"/>): take the span again for each round of writes.
    /// </summary>
    public Span<float> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            _version++;
            return HostSpan;
        }
    }

    /// <summary>The elements, read-only, for a tensor in host memory; does not count as a change.</summary>
    public ReadOnlySpan<float> ReadOnlySpan
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => HostSpan;
    }

    private Span<float> HostSpan => Storage is HostStorage host
        ? host.Span
        : throw new InvalidOperationException($"Tensor {Describe()} lives on {Backend.Name}, not in host memory; call ToArray() to copy it to the host.");

    private long _version;

    /// <summary>
    /// A counter that changes whenever the elements may have changed: each writable <see cref="Span"/> handed out (every
    /// CPU kernel that writes, an optimiser step, a load, <see cref="CopyFrom"/>) and each <see cref="MarkModified"/>.
    /// Caches derived from the values (an inference plan's transformed or packed weights) compare it to know when to
    /// rebuild. Only ever grows; a reader that took the span and wrote nothing still bumps it (a spurious rebuild, never a
    /// stale one).
    /// </summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>Records a change made without taking <see cref="Span"/> again (e.g. through a span kept from before, or on a device).</summary>
    public void MarkModified() => Interlocked.Increment(ref _version);

    // ---------------------------------------------------------------- factories (persistent tensors)

    /// <summary>A new tensor with undefined contents.</summary>
    public static Tensor Empty(Shape shape, IBackend? backend = null)
    {
        var t = new Tensor();
        backend ??= Engine.DefaultBackend;
        t.Attach(shape, backend.Allocate(shape.Size), ownsStorage: true, temporary: false);
        return t;
    }

    public static Tensor Zeros(Shape shape, IBackend? backend = null) => Filled(shape, 0f, backend);

    public static Tensor Filled(Shape shape, float value, IBackend? backend = null)
    {
        var t = Empty(shape, backend);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>A tensor holding a copy of <paramref name="values"/> (host order = row-major).</summary>
    public static Tensor FromSpan(ReadOnlySpan<float> values, Shape shape, IBackend? backend = null)
    {
        if (values.Length != shape.Size)
            throw new ArgumentException($"Tensor.FromSpan: {values.Length} values do not fill shape {shape} ({shape.Size} elements).");
        var t = Empty(shape, backend);
        t.Backend.Upload(values, t);
        return t;
    }

    public static Tensor FromArray(float[] values, Shape shape, IBackend? backend = null) => FromSpan(values, shape, backend);

    // ---------------------------------------------------------------- reading and copying

    /// <summary>A host copy of the elements (waits for a device).</summary>
    public float[] ToArray()
    {
        var result = new float[Length];
        Backend.Download(this, result);
        return result;
    }

    /// <summary>Copies the elements into <paramref name="destination"/> (length must match).</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"Tensor.CopyTo: destination has {destination.Length} elements, tensor {Describe()} has {Length}.");
        Backend.Download(this, destination);
    }

    /// <summary>Overwrites the elements from host memory (length must match).</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
            throw new ArgumentException($"Tensor.CopyFrom: source has {source.Length} elements, tensor {Describe()} has {Length}.");
        Backend.Upload(source, this);
        MarkModified(); // a device upload takes no span
    }

    /// <summary>The single value of a one-element tensor (e.g. a loss).</summary>
    public float Item()
    {
        if (Length != 1)
            throw new InvalidOperationException($"Item() needs a one-element tensor; {Describe()} has {Length} elements.");
        Span<float> one = stackalloc float[1];
        Backend.Download(this, one);
        return one[0];
    }

    /// <summary>A persistent copy on the same backend (or on <paramref name="backend"/>), detached from autograd.</summary>
    public Tensor Clone(IBackend? backend = null)
    {
        backend ??= Backend;
        if (ReferenceEquals(backend, Backend))
        {
            var copy = Empty(Shape, backend);
            Backend.Copy(this, copy);
            return copy;
        }
        return FromArray(ToArray(), Shape, backend);
    }

    /// <summary>Runs reverse-mode autograd from this tensor (a scalar loss, or any tensor with <paramref name="seed"/> as its upstream gradient).</summary>
    public void Backward(Tensor? seed = null) => Tape.Current.Backward(this, seed);

    /// <summary>Gives the storage back to its pool. Parameters and inputs call this when done; temporaries are freed by their tape.</summary>
    public void Dispose()
    {
        if (IsTemporary) return; // the tape owns it
        Grad?.Dispose();
        Grad = null;
        if (_storage is not null && OwnsStorage) _storage.Backend.Release(_storage);
        _storage = null;
    }

    public override string ToString() => Describe();

    internal string Describe() => Name is null ? Shape.ToString() : $"'{Name}' {Shape}";

    // ---------------------------------------------------------------- internals for the tape and ops

    internal void Attach(Shape shape, TensorStorage storage, bool ownsStorage, bool temporary)
    {
        if (storage.Length < shape.Size)
            throw new InvalidOperationException($"Internal: storage of {storage.Length} floats is too small for shape {shape}.");
        Shape = shape;
        _storage = storage;
        OwnsStorage = ownsStorage;
        IsTemporary = temporary;
        RequiresGrad = false;
        Grad = null;
        Name = null;
    }

    /// <summary>Releases a temporary's storage (if it owns it) and clears it for reuse by the tape's tensor pool.</summary>
    internal void ReleaseTemporary()
    {
        if (_storage is not null && OwnsStorage) _storage.Backend.Release(_storage);
        _storage = null;
        Grad = null;
        RequiresGrad = false;
        Name = null;
    }

    /// <summary>Sets the gradient of a persistent tensor (optimisers, checkpoint loading).</summary>
    internal void SetGrad(Tensor? grad) => Grad = grad;
}
