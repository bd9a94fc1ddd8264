using ILGPU;
using ILGPU.Runtime;
using NativeConv.Gpu.Kernels;
using NativeConv.Tensors;

namespace NativeConv.Gpu;

public sealed partial class IlgpuBackend
{
    private Action<KernelConfig, GemmParams, FloatView, FloatView, FloatView>? _gemm;

    public void MatMul(Tensor a, bool transposeA, Tensor b, bool transposeB, Tensor c, float alpha, float beta)
    {
        // Stored shapes: a (M, K) or (K, M) when transposed; b (K, N) or (N, K); c (M, N).
        int m = c.Shape[0], n = c.Shape[1];
        int k = transposeA ? a.Shape[0] : a.Shape[1];
        var p = new GemmParams
        {
            M = m, N = n, K = k,
            Lda = a.Shape[1], Ldb = b.Shape[1], Ldc = n,
            Alpha = alpha, Beta = beta,
            TransposeA = transposeA ? 1 : 0, TransposeB = transposeB ? 1 : 0,
        };
        RunGemm(p, View(a), View(b), View(c), batch: 1);
    }

    /// <summary>Launches the tiled GEMM on <paramref name="batch"/> problems (grid z); TileK is filled in here.</summary>
    internal void RunGemm(GemmParams p, FloatView a, FloatView b, FloatView c, int batch)
    {
        if (p.M == 0 || p.N == 0 || batch == 0) return;
        // K = 0 needs no special case: the K loop runs zero times and the store writes beta·C (or 0 when beta = 0).
        var kernel = _gemm ??= Load(nameof(Gemm.Tiled), acc => acc.LoadStreamKernel<GemmParams, FloatView, FloatView, FloatView>(Gemm.Tiled));
        p.TileK = GemmTileK;
        int side = GemmGroupSide, tile = Gemm.RegisterBlock * side;
        var config = new KernelConfig(
            new Index3D(Groups(p.N, tile), Groups(p.M, tile), batch),
            new Index3D(side, side, 1),
            SharedMemoryConfig.RequestDynamic<float>(Gemm.SharedFloats(side, side, p.TileK)));
        Launch(nameof(MatMul));
        kernel(config, p, a, b, c);
    }
}
