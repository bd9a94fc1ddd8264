using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace NativeConv.Gpu;

/// <summary>
/// A failure of the GPU backend, with a message that names the device, the operation and what to do about it.
/// </summary>
public sealed class GpuException : Exception
{
    public GpuException(string message, Exception? inner = null) : base(message, inner) { }

    internal static GpuException NoDevice(string requested, string detail) => new(
        $"No {requested} device: {detail} Remedy: run on the CPU backend (--device cpu), or use 'ilgpu-cpu' to run the GPU kernels on ILGPU's CPU accelerator.");

    internal static GpuException AcceleratorFailed(string device, Exception inner) => new(
        $"{device}: creating the accelerator failed: {Cause(inner)} Remedy: check the driver (nvidia-smi), that no other process " +
        "holds the device exclusively, or run on the CPU backend (--device cpu).", inner);

    internal static GpuException OutOfMemory(string device, string operation, long bytes, long pooledBytes, Exception inner) => new(
        $"{device}: out of device memory during {operation} ({bytes:N0} bytes requested, {pooledBytes:N0} bytes held in the buffer pool). " +
        "Remedy: use a smaller batch size (--batch) or model, stop other processes using the device, or call TrimPool() between models.", inner);

    internal static GpuException CompileFailed(string device, string kernel, Exception inner) => new(
        $"{device}: compiling kernel {kernel} failed: {Cause(inner)} Remedy: this is a bug in the kernel (a construct this ILGPU backend " +
        "does not support); run with the CPU backend (--device cpu) meanwhile and report the message.", inner);

    internal static GpuException LaunchFailed(string device, string operation, Exception inner) => new(
        $"{device}: {operation} failed: {Cause(inner)} Remedy: " + (inner is AcceleratorException or OutOfMemoryException
            ? "check the device is healthy (nvidia-smi), that no other process holds its memory, and retry on the CPU backend " +
              "(--device cpu) to tell a kernel bug from a device problem."
            // ILGPU refused the launch itself (group size, shared memory): the backend asked for more than this device has.
            : "this is a bug in the backend's launch configuration for this device; run with the CPU backend (--device cpu) " +
              "meanwhile and report the message."), inner);

    /// <summary>
    /// What the driver or ILGPU said: the error code (OpenCL's messages omit it) or exception type, the message, and the
    /// innermost cause (ILGPU's InternalCompilerException says only "an internal compiler error" and keeps the reason inside).
    /// </summary>
    private static string Cause(Exception inner)
    {
        string code = inner switch
        {
            CudaException cuda => cuda.Error,
            CLException cl => cl.Error.ToString(),
            _ => inner.GetType().Name,
        };
        string text = Sentence(inner.Message);
        text = text.Length == 0 ? code + "." : text.Contains(code, StringComparison.Ordinal) ? text : $"{code}: {text}";
        var root = inner;
        while (root.InnerException is not null) root = root.InnerException;
        if (!ReferenceEquals(root, inner) && Sentence(root.Message) is { Length: > 0 } reason && !text.Contains(reason, StringComparison.Ordinal))
            text += $" Cause: {root.GetType().Name}: {reason}";
        return text;
    }

    // Exception's placeholder message ("Exception of type 'X' was thrown.") says nothing: drop it.
    private static string Sentence(string message)
    {
        message = message.Trim();
        if (message.StartsWith("Exception of type ", StringComparison.Ordinal)) return "";
        return message.Length == 0 || message.EndsWith('.') ? message : message + ".";
    }
}
