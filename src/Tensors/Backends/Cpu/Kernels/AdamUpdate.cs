using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// The fused Adam update (Keras form, see <see cref="AdamStep"/>): one pass reads g, m, v, p once and writes m, v, p.
/// Named apart from the optimiser (<c>NativeConv.Layers.Optim.Adam</c>) that calls it through the backend.
/// </summary>
public static unsafe class AdamUpdate
{
    /// <summary>
    /// p, g, m, v (L):  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − α·m / (√v + ε), α the bias-corrected step size.
    /// One source for every width applies the same float operations in the same order (no FMA contraction), so every
    /// element gets the same bits whichever width or thread handles it. A NaN in g, m or v makes that element's m, v, p NaN.
    /// </summary>
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float alpha, float beta1, float beta2, float epsilon) =>
        Update(p, g, m, v, alpha, beta1, beta2, epsilon, VectorWidth.Auto);

    internal static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float alpha, float beta1, float beta2, float epsilon, VectorWidth width)
    {
        if (g.Length != p.Length || m.Length != p.Length || v.Length != p.Length)
            throw new ArgumentException("AdamUpdate.Update: parameter, gradient, m and v must have the same length.");
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            var kernel = new Kernel
            {
                P = pp, G = pg, M = pm, V = pv,
                Alpha = alpha, Beta1 = beta1, Beta2 = beta2, OneMinusBeta1 = 1f - beta1, OneMinusBeta2 = 1f - beta2, Epsilon = epsilon,
            };
            ElementwiseDriver.Run(p.Length, kernel, width);
        }
    }

    private readonly struct Kernel : IElementwiseKernel
    {
        public float* P { get; init; }
        public float* G { get; init; }
        public float* M { get; init; }
        public float* V { get; init; }
        public float Alpha { get; init; }
        public float Beta1 { get; init; }
        public float Beta2 { get; init; }
        public float OneMinusBeta1 { get; init; }
        public float OneMinusBeta2 { get; init; }
        public float Epsilon { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec>
        {
            var g = TVec.Load(G + i);
            var m = TVec.Broadcast(Beta1) * TVec.Load(M + i) + TVec.Broadcast(OneMinusBeta1) * g;
            var v = TVec.Broadcast(Beta2) * TVec.Load(V + i) + TVec.Broadcast(OneMinusBeta2) * (g * g);
            TVec.Store(M + i, m);
            TVec.Store(V + i, v);
            TVec.Store(P + i, TVec.Load(P + i) - TVec.Broadcast(Alpha) * m / (TVec.Sqrt(v) + TVec.Broadcast(Epsilon)));
        }
    }
}
