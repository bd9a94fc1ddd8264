namespace NativeConv.Tests.Backends;

/// <summary>
/// The keep/drop rule every backend must reproduce bit for bit: element i is dropped when the counter hash of (seed, i)
/// is below the rate. PLACEHOLDER: calls the GPU project's port until the CPU's CounterRng lands on main; then this must
/// call the CPU function, so the GPU kernel is checked against the CPU's definition and not against itself.
/// </summary>
public static class DropoutReference
{
    public static bool Keep(ulong seed, long index, float rate) => NativeConv.Gpu.Kernels.CounterRng.Uniform(seed, index) >= rate;
}
