using ILGPU;

namespace NativeConv.Gpu.Kernels;

/// <summary>Building blocks for explicitly grouped kernels (inlined by ILGPU into their callers).</summary>
public static class Reduction
{
    /// <summary>
    /// Sum of one value per thread over the whole group, returned to every thread. The group size must be a power of two and
    /// <paramref name="scratch"/> (dynamic shared memory) must hold one float per thread. The pairing is fixed, so the result is
    /// bitwise deterministic for a given group size.
    /// </summary>
    public static float GroupSum(ILGPU.ArrayView<float> scratch, float value)
    {
        int tid = Group.IdxX;
        scratch[tid] = value;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (tid < half) scratch[tid] += scratch[tid + half];
            Group.Barrier();
        }
        float total = scratch[0];
        Group.Barrier(); // everyone has read slot 0 before the scratch is reused
        return total;
    }
}
