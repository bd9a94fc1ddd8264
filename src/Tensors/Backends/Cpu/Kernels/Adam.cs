using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>The fused Adam update (Keras form, see <see cref="AdamStep"/>): one pass reads g, m, v, p once and writes m, v, p.</summary>
public static unsafe class Adam
{
    /// <summary>
    /// p, g, m, v (L):  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p − α·m / (√v + ε), α the bias-corrected step size.
    /// The vector and scalar paths apply the same float operations in the same order (no FMA contraction), so every element
    /// gets the same bits whichever path or thread handles it.
    /// </summary>
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float alpha, float beta1, float beta2, float epsilon)
    {
        if (g.Length != p.Length || m.Length != p.Length || v.Length != p.Length)
            throw new ArgumentException("Adam.Update: parameter, gradient, m and v must have the same length.");
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            var kernel = new Kernel
            {
                P = pp, G = pg, M = pm, V = pv,
                Alpha = alpha, Beta1 = beta1, Beta2 = beta2, OneMinusBeta1 = 1f - beta1, OneMinusBeta2 = 1f - beta2, Epsilon = epsilon,
            };
            RangeParallel.ForElements(p.Length, ref kernel);
        }
    }

    private struct Kernel : IRangeKernel
    {
        public float* P, G, M, V;
        public float Alpha, Beta1, Beta2, OneMinusBeta1, OneMinusBeta2, Epsilon;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int i = start;
            if (Vector512.IsHardwareAccelerated)
            {
                var b1 = Vector512.Create(Beta1); var c1 = Vector512.Create(OneMinusBeta1);
                var b2 = Vector512.Create(Beta2); var c2 = Vector512.Create(OneMinusBeta2);
                var alpha = Vector512.Create(Alpha); var eps = Vector512.Create(Epsilon);
                for (; i <= end - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var g = Vector512.Load(G + i);
                    var m = b1 * Vector512.Load(M + i) + c1 * g;
                    var v = b2 * Vector512.Load(V + i) + c2 * (g * g);
                    m.Store(M + i);
                    v.Store(V + i);
                    (Vector512.Load(P + i) - alpha * m / (Vector512.Sqrt(v) + eps)).Store(P + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var b1 = Vector256.Create(Beta1); var c1 = Vector256.Create(OneMinusBeta1);
                var b2 = Vector256.Create(Beta2); var c2 = Vector256.Create(OneMinusBeta2);
                var alpha = Vector256.Create(Alpha); var eps = Vector256.Create(Epsilon);
                for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var g = Vector256.Load(G + i);
                    var m = b1 * Vector256.Load(M + i) + c1 * g;
                    var v = b2 * Vector256.Load(V + i) + c2 * (g * g);
                    m.Store(M + i);
                    v.Store(V + i);
                    (Vector256.Load(P + i) - alpha * m / (Vector256.Sqrt(v) + eps)).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                float g = G[i];
                float m = Beta1 * M[i] + OneMinusBeta1 * g;
                float v = Beta2 * V[i] + OneMinusBeta2 * (g * g);
                M[i] = m;
                V[i] = v;
                P[i] = P[i] - Alpha * m / (MathF.Sqrt(v) + Epsilon);
            }
        }
    }
}
