using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class SgdKernelTests
{
    [Fact]
    public void Matches_reference_for_every_length()
    {
        const float lr = 0.05f, momentum = 0.9f;
        foreach (int length in KernelSweep.Lengths.Append(70_001)) // the last one runs in parallel chunks
        {
            var p = TestRandom.Uniform(length, length);
            var g = TestRandom.Uniform(length, length + 1);
            var velocity = TestRandom.Uniform(length, length + 2, -0.1f, 0.1f);
            var expectedP = new float[length];
            var expectedV = new float[length];
            for (int i = 0; i < length; i++)
            {
                // Same float operations in the same order as the kernel: the results must be bit-identical.
                expectedV[i] = momentum * velocity[i] - lr * g[i];
                expectedP[i] = p[i] + expectedV[i];
            }
            Sgd.Update(p, g, velocity, lr, momentum);
            KernelSweep.Exact(expectedV, velocity, $"Sgd velocity, length {length}");
            KernelSweep.Exact(expectedP, p, $"Sgd parameter, length {length}");
        }
    }

    [Fact]
    public void Two_steps_by_hand()
    {
        // lr = 0.1, μ = 0.9, p₀ = 1, velocity₀ = 0; gradients 0.5 then −0.25.
        //   step 1: velocity = 0.9·0 − 0.1·0.5 = −0.05;              p = 1 − 0.05 = 0.95
        //   step 2: velocity = 0.9·(−0.05) − 0.1·(−0.25) = −0.02;    p = 0.95 − 0.02 = 0.93
        float[] p = [1f], velocity = [0f];
        Sgd.Update(p, [0.5f], velocity, 0.1f, 0.9f);
        Assert.Equal(-0.05f, velocity[0], 1e-7f);
        Assert.Equal(0.95f, p[0], 1e-7f);
        Sgd.Update(p, [-0.25f], velocity, 0.1f, 0.9f);
        Assert.Equal(-0.02f, velocity[0], 1e-7f);
        Assert.Equal(0.93f, p[0], 1e-7f);
    }
}
