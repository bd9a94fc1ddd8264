using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>SGD with (classical, Keras-form) momentum, fused: one pass over p, g and the velocity.</summary>
public static unsafe class Sgd
{
    /// <summary>p, g, velocity (L): velocity ← μ·velocity − lr·g;  p ← p + velocity. Same float operations on every path.</summary>
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> velocity, float learningRate, float momentum)
    {
        if (g.Length != p.Length || velocity.Length != p.Length)
            throw new ArgumentException("Sgd.Update: parameter, gradient and velocity must have the same length.");
        fixed (float* pp = p, pg = g, pv = velocity)
        {
            var kernel = new Kernel { P = pp, G = pg, Velocity = pv, LearningRate = learningRate, Momentum = momentum };
            RangeParallel.ForElements(p.Length, ref kernel);
        }
    }

    private struct Kernel : IRangeKernel
    {
        public float* P, G, Velocity;
        public float LearningRate, Momentum;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int start, int end)
        {
            int i = start;
            if (Vector512.IsHardwareAccelerated)
            {
                var mu = Vector512.Create(Momentum); var lr = Vector512.Create(LearningRate);
                for (; i <= end - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var vel = mu * Vector512.Load(Velocity + i) - lr * Vector512.Load(G + i);
                    vel.Store(Velocity + i);
                    (Vector512.Load(P + i) + vel).Store(P + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var mu = Vector256.Create(Momentum); var lr = Vector256.Create(LearningRate);
                for (; i <= end - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var vel = mu * Vector256.Load(Velocity + i) - lr * Vector256.Load(G + i);
                    vel.Store(Velocity + i);
                    (Vector256.Load(P + i) + vel).Store(P + i);
                }
            }
            for (; i < end; i++)
            {
                float vel = Momentum * Velocity[i] - LearningRate * G[i];
                Velocity[i] = vel;
                P[i] = P[i] + vel;
            }
        }
    }
}
