using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends;

namespace NativeConv.Tensors.Storage;

/// <summary>
/// Host memory: a pinned float[] whose usable window starts on a 64-byte boundary, so Vector512 loads of
/// row starts are aligned. Pinned (on the pinned-object heap) so the alignment never moves.
/// </summary>
public sealed class HostStorage : TensorStorage
{
    private const int AlignmentBytes = 64;
    private readonly float[] _array;
    private readonly int _offset;

    internal HostStorage(IBackend backend, int length) : base(backend, length)
    {
        const int slack = AlignmentBytes / sizeof(float);
        _array = GC.AllocateUninitializedArray<float>(length + slack, pinned: true);
        unsafe
        {
            nint address = (nint)Unsafe.AsPointer(ref _array[0]);
            int misalignment = (int)(address & (AlignmentBytes - 1));
            _offset = misalignment == 0 ? 0 : (AlignmentBytes - misalignment) / sizeof(float);
        }
    }

    public Span<float> Span
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(_array, _offset, Length);
    }
}
