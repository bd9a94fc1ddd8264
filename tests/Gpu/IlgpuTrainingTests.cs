using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Geometry;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Backends;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Gpu;

/// <summary>
/// A short training run of a small CNN (conv 3×3 → bias → ReLU → max-pool → dense → softmax-CE, Adam) from the same initial
/// weights on the same batches, once on the SIMD CPU engine and once on ILGPU's CPU accelerator: the GPU kernels must follow
/// the CPU's loss curve. Tolerance: |loss_gpu − loss_cpu| ≤ 1e-4 + 1e-4·loss_cpu at every step. Measured: the two curves agree
/// to ~1e-7 over the 12 steps (float32 sums in a different order), so the bound leaves a 1000× margin, while a wrong kernel or
/// a missing accumulation moves the loss by far more after a few Adam steps.
/// </summary>
[Collection(TestBackends.IlgpuCpuCollection)]
public class IlgpuTrainingTests
{
    private const int Batch = 8, Classes = 3, Size = 8, Channels = 4, Steps = 12;

    [Fact]
    public void Small_cnn_on_ilgpu_cpu_follows_the_cpu_loss_curve()
    {
        var cpu = Train(CpuBackend.Instance);
        var gpu = Train(TestBackends.IlgpuCpu);
        for (int step = 0; step < Steps; step++)
            Assert.True(Math.Abs(gpu[step] - cpu[step]) <= 1e-4f + 1e-4f * cpu[step],
                $"step {step + 1}: ilgpu-cpu loss {gpu[step]:G7} vs cpu {cpu[step]:G7}\n cpu: {string.Join(", ", cpu)}\n gpu: {string.Join(", ", gpu)}");
        Assert.True(cpu[^1] < 0.6f * cpu[0], $"the model did not learn: {string.Join(", ", cpu)}");
    }

    // Synthetic, seeded task: class k lights a 3×3 blob in the k-th band of the image, on top of noise.
    private static (float[] Images, float[] Labels) MakeBatch(int step)
    {
        var rng = new Random(1000 + step);
        var images = TestRandom.Uniform(Batch * Size * Size, 2000 + step, -0.3f, 0.3f);
        var labels = new float[Batch];
        for (int n = 0; n < Batch; n++)
        {
            int label = rng.Next(Classes);
            labels[n] = label;
            int top = label * 2 + rng.Next(2), left = rng.Next(Size - 3);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++)
                    images[n * Size * Size + (top + r) * Size + left + c] += 1f;
        }
        return (images, labels);
    }

    private static float[] Train(IBackend backend)
    {
        var tape = Tape.Current;
        tape.Reset();
        int flat = Channels * (Size / 2) * (Size / 2);
        var parameters = new[]
        {
            Parameter(TestRandom.Uniform(Channels * 9, 1, -0.47f, 0.47f), new Shape(Channels, 1, 3, 3), backend),
            Parameter(new float[Channels], new Shape(Channels), backend),
            Parameter(TestRandom.Uniform(flat * Classes, 2, -0.3f, 0.3f), new Shape(flat, Classes), backend),
            Parameter(new float[Classes], new Shape(Classes), backend),
        };
        var moments = parameters.Select(p => (M: Tensor.Zeros(p.Shape, backend), V: Tensor.Zeros(p.Shape, backend))).ToArray();
        var losses = new float[Steps];
        try
        {
            for (int step = 0; step < Steps; step++)
            {
                var (images, labels) = MakeBatch(step);
                using var x = Tensor.FromArray(images, new Shape(Batch, 1, Size, Size), backend);
                using var y = Tensor.FromArray(labels, new Shape(Batch), backend);
                var h = Op.MaxPool2D(Op.Relu(Op.Conv2D(x, parameters[0], parameters[1], 1, Padding.Same)), 2, 2);
                var logits = Op.AddBias(Op.MatMul(Op.Flatten(h), parameters[2]), parameters[3]);
                var loss = Op.SoftmaxCrossEntropy(logits, y);
                loss.Backward();
                losses[step] = loss.Item();
                var adam = new AdamStep(0.02f, 0.9f, 0.999f, 1e-7f, step + 1);
                for (int i = 0; i < parameters.Length; i++)
                {
                    backend.AdamUpdate(parameters[i], parameters[i].Grad!, moments[i].M, moments[i].V, adam);
                    backend.Fill(parameters[i].Grad!, 0f);
                }
                tape.Reset();
            }
            return losses;
        }
        finally
        {
            tape.Reset();
            foreach (var p in parameters) p.Dispose();
            foreach (var (m, v) in moments) { m.Dispose(); v.Dispose(); }
        }
    }

    private static Tensor Parameter(float[] values, Shape shape, IBackend backend)
    {
        var t = Tensor.FromArray(values, shape, backend);
        t.RequiresGrad = true;
        return t;
    }
}
