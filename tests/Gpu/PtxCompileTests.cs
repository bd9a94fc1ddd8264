using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeConv.Gpu.Kernels;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// Compiles EVERY kernel (every method tagged [GpuKernel]) to PTX through ILGPU's PTX backend for sm_80 (A100) and sm_90
/// (H100), with no GPU and no CUDA driver: ILGPU generates PTX itself. A construct that ILGPU's CPU accelerator happily
/// runs but its CUDA backend rejects (an unsupported intrinsic, managed allocation, a shared-memory misuse) fails here, in CI.
/// </summary>
public class PtxCompileTests
{
    private static readonly (CudaArchitecture Architecture, CudaInstructionSet InstructionSet, string Version)[] Targets =
    [
        (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70, "7.0"), // PTX 7.0 is the first to know sm_80 (A100)
        (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, "7.8"), // PTX 7.8 is the first to know sm_90 (H100)
    ];

    private static IEnumerable<MethodInfo> KernelMethods() =>
        typeof(GpuKernelAttribute).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<GpuKernelAttribute>() is not null);

    public static TheoryData<string> Kernels
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var m in KernelMethods()) data.Add($"{m.DeclaringType!.Name}.{m.Name}");
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_compiles_to_ptx_for_sm80_and_sm90(string kernel)
    {
        var method = KernelMethods().Single(m => $"{m.DeclaringType!.Name}.{m.Name}" == kernel);
        var grouping = method.GetCustomAttribute<GpuKernelAttribute>()!.Grouping;
        var entry = grouping == KernelGrouping.Implicit
            ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
            : EntryPointDescription.FromExplicitlyGroupedKernel(method);

        // Same context options as the backends (XMath and friends need the algorithms' PTX intrinsics).
        foreach (var (architecture, instructionSet, version) in Targets)
        {
            // A fresh context per target, so nothing compiled for one architecture is reused for the other.
            using var context = Context.Create(b => b.EnableAlgorithms());
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, nvvmAPI: null);
            var compiled = Assert.IsType<PTXCompiledKernel>(backend.Compile(entry, KernelSpecialization.Empty));
            string ptx = compiled.PTXAssembly;
            Assert.Contains($".version {version}", ptx);
            Assert.Contains(".entry ", ptx);
            // ILGPU 1.5.3 writes a baseline `.target sm_80` even when asked for sm_90 (PTX is forward-compatible: the driver
            // JIT-compiles it for Hopper); what matters is that the kernel compiled for the sm_90 capability set and ISA.
            var target = System.Text.RegularExpressions.Regex.Match(ptx, @"\.target sm_(\d+)");
            Assert.True(target.Success, "no .target line in the PTX");
            int sm = int.Parse(target.Groups[1].Value);
            Assert.InRange(sm, 80, architecture.Major * 10 + architecture.Minor);
        }
    }

    [Fact]
    public void Every_public_kernel_shaped_method_is_tagged()
    {
        // A public static void method of the Kernels namespace that takes device views is a kernel: it must carry
        // [GpuKernel], or the PTX test above would silently skip it.
        var untagged = typeof(GpuKernelAttribute).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(GpuKernelAttribute).Namespace)
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(void) && m.GetParameters().Any(p => p.ParameterType == typeof(ArrayView1D<float, Stride1D.Dense>)))
            .Where(m => m.GetCustomAttribute<GpuKernelAttribute>() is null)
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .ToList();
        Assert.True(untagged.Count == 0, "Kernels without [GpuKernel]: " + string.Join(", ", untagged));
        Assert.True(KernelMethods().Count() >= 20, $"expected the full kernel set, found {KernelMethods().Count()} tagged kernels");
    }
}
