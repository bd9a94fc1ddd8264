namespace NativeConv.Gpu;

/// <summary>
/// A failure of the GPU backend, with a message that names the device, the operation and what to do about it.
/// </summary>
public sealed class GpuException : Exception
{
    public GpuException(string message, Exception? inner = null) : base(message, inner) { }

    internal static GpuException NoDevice(string requested, string detail) => new(
        $"No {requested} device: {detail} Remedy: run on the CPU backend (--device cpu), or use 'ilgpu-cpu' to run the GPU kernels on ILGPU's CPU accelerator.");

    internal static GpuException OutOfMemory(string device, string operation, long bytes, long pooledBytes, Exception inner) => new(
        $"{device}: out of device memory during {operation} ({bytes:N0} bytes requested, {pooledBytes:N0} bytes held in the buffer pool). " +
        "Remedy: use a smaller batch size or model, or call TrimPool() between models.", inner);

    internal static GpuException CompileFailed(string device, string kernel, Exception inner) => new(
        $"{device}: compiling kernel {kernel} failed: {inner.Message} Remedy: this is a bug in the kernel (a construct this ILGPU backend " +
        "does not support); run with the CPU backend meanwhile and report the message.", inner);

    internal static GpuException LaunchFailed(string device, string operation, Exception inner) => new(
        $"{device}: {operation} failed: {inner.Message} Remedy: check the device is healthy (nvidia-smi), that no other process holds its memory, " +
        "and retry on the CPU backend to tell a kernel bug from a device problem.", inner);
}
