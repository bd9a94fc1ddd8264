using ILGPU;
using ILGPU.Algorithms;

namespace NativeConv.Gpu.Kernels;

/// <summary>Adam's per-step scalars (see Tensors' AdamStep): α is the bias-corrected learning rate.</summary>
public struct AdamParams
{
    public float CorrectedLearningRate, Beta1, Beta2, Epsilon;
}

/// <summary>Fused optimiser updates: one thread per parameter element.</summary>
public static class Optimizers
{
    // parameter, gradient, m, v (n): m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − α·m / (√v + ε).
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Adam(Index1D i, AdamParams s, FloatView parameter, FloatView gradient, FloatView m, FloatView v)
    {
        float g = gradient[i];
        float mi = s.Beta1 * m[i] + (1f - s.Beta1) * g;
        float vi = s.Beta2 * v[i] + (1f - s.Beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        parameter[i] -= s.CorrectedLearningRate * mi / (XMath.Sqrt(vi) + s.Epsilon);
    }

    // parameter, gradient, velocity (n): velocity ← momentum·velocity − lr·g; p ← p + velocity.
    [GpuKernel(KernelGrouping.Implicit)]
    public static void Sgd(Index1D i, FloatView parameter, FloatView gradient, FloatView velocity, float learningRate, float momentum)
    {
        float vel = momentum * velocity[i] - learningRate * gradient[i];
        velocity[i] = vel;
        parameter[i] += vel;
    }
}
