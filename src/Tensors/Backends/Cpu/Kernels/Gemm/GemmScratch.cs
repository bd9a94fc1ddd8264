using System.Runtime.CompilerServices;

namespace NativeConv.Tensors.Backends.Cpu.Kernels.Gemm;

/// <summary>
/// Per-thread pack buffers for the GEMM: pinned (pinned object heap, never moved by the GC), 64-byte aligned, grown on
/// demand and then reused, so a steady-state call allocates nothing. [ThreadStatic] rather than per-worker because a GEMM
/// called from inside another parallel body runs inline on whatever thread called it.
/// </summary>
internal static unsafe class GemmScratch
{
    /// <summary>The whole packed op(A) of the call in flight on this thread (shared read-only with the workers).</summary>
    [ThreadStatic] private static float[]? t_packedA;

    /// <summary>This thread's packed block of op(B) (KC × NC).</summary>
    [ThreadStatic] private static float[]? t_packedB;

    /// <summary>Per-K-split partial products (the split-K path), owned by the calling thread.</summary>
    [ThreadStatic] private static float[]? t_partials;

    /// <summary>Counters the items of one call synchronise on (owned by the calling thread).</summary>
    [ThreadStatic] private static int[]? t_sync;

    public static int* Sync(int count)
    {
        if (t_sync is null || t_sync.Length < count)
            t_sync = GC.AllocateArray<int>(Math.Max(count, 64), pinned: true);
        return (int*)Unsafe.AsPointer(ref t_sync[0]);
    }

    public static float* PackedA(nint floats) => Get(ref t_packedA, floats);

    public static float* PackedB(nint floats) => Get(ref t_packedB, floats);

    public static float* Partials(nint floats) => Get(ref t_partials, floats);

    private const int AlignFloats = 16; // 64 bytes

    private static float* Get(ref float[]? buffer, nint floats)
    {
        if (buffer is null || buffer.Length < floats + AlignFloats)
        {
            // Grow geometrically so a sequence of slightly larger shapes does not reallocate every call.
            long want = Math.Max(floats + AlignFloats, buffer is null ? 0 : (long)buffer.Length * 3 / 2);
            if (want > Array.MaxLength)
                throw new OutOfMemoryException($"Gemm: a pack buffer of {floats} floats is larger than one array can hold.");
            buffer = GC.AllocateUninitializedArray<float>((int)want, pinned: true);
        }
        float* p = (float*)Unsafe.AsPointer(ref buffer[0]);
        nint misalign = (nint)p & 63;
        return misalign == 0 ? p : (float*)((byte*)p + (64 - misalign));
    }
}
