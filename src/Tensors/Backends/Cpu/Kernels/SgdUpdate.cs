using System.Runtime.CompilerServices;
using NativeConv.Tensors.Backends.Cpu.Kernels.Elementwise;

namespace NativeConv.Tensors.Backends.Cpu.Kernels;

/// <summary>
/// SGD with (classical, Keras-form) momentum, fused: one pass over p, g and the velocity. Named apart from the optimiser
/// (<c>NativeConv.Layers.Optim.Sgd</c>) that calls it through the backend.
/// </summary>
public static unsafe class SgdUpdate
{
    /// <summary>
    /// p, g, velocity (L): velocity ← μ·velocity − lr·g;  p ← p + velocity. One source for every width, same float operations
    /// in the same order (no FMA contraction): the same bits at every width and thread count.
    /// </summary>
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> velocity, float learningRate, float momentum) =>
        Update(p, g, velocity, learningRate, momentum, VectorWidth.Auto);

    internal static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> velocity, float learningRate, float momentum,
        VectorWidth width)
    {
        if (g.Length != p.Length || velocity.Length != p.Length)
            throw new ArgumentException("SgdUpdate.Update: parameter, gradient and velocity must have the same length.");
        fixed (float* pp = p, pg = g, pv = velocity)
            ElementwiseDriver.Run(p.Length, new Kernel { P = pp, G = pg, Velocity = pv, LearningRate = learningRate, Momentum = momentum }, width);
    }

    private readonly struct Kernel : IElementwiseKernel
    {
        public float* P { get; init; }
        public float* G { get; init; }
        public float* Velocity { get; init; }
        public float LearningRate { get; init; }
        public float Momentum { get; init; }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Apply<TVec>(nint i) where TVec : struct, IFloatVector<TVec>
        {
            var velocity = TVec.Broadcast(Momentum) * TVec.Load(Velocity + i) - TVec.Broadcast(LearningRate) * TVec.Load(G + i);
            TVec.Store(Velocity + i, velocity);
            TVec.Store(P + i, TVec.Load(P + i) + velocity);
        }
    }
}
