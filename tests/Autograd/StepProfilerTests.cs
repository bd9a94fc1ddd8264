using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;
using NativeConv.Tensors.Backends.Cpu;
using NativeConv.Tensors.Ops;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Autograd;

public class StepProfilerTests
{
    private static Tensor Step(Tensor x, Tensor w)
    {
        var h = Op.Relu(Op.MatMul(x, w));
        var z = Op.Relu(h);
        return Op.Reshape(z, new Shape(z.Length));
    }

    [Fact]
    public void Every_recorded_op_gets_a_row_in_forward_order_and_every_interval_is_charged_somewhere()
    {
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray(TestRandom.Uniform(6 * 5, 1), new Shape(6, 5), backend);
        using var w = Tensor.FromArray(TestRandom.Uniform(5 * 4, 2), new Shape(5, 4), backend);
        w.RequiresGrad = true;
        var profiler = new StepProfiler();
        var tape = Tape.Current;
        tape.Profiler = profiler;
        try
        {
            for (int step = 0; step < 3; step++)
            {
                profiler.BeginStep(backend);
                var y = Step(x, w);
                using var seed = Tensor.FromArray(TestRandom.Uniform(y.Length, 3), y.Shape, backend);
                tape.Backward(y, seed);
                profiler.Mark("optimizer", backend);
                tape.Reset();
            }
        }
        finally { tape.Profiler = null; w.Grad?.Dispose(); }

        Assert.Equal(3, profiler.Steps);
        Assert.Equal(["MatMul", "Relu", "Relu", "Reshape"], profiler.Entries.Select(e => e.Op).ToArray());
        Assert.Equal(new Shape(6, 4), profiler.Entries[0].Output);
        Assert.All(profiler.Entries, e => Assert.Equal(3, e.Count)); // one backward per step each
        Assert.All(profiler.Entries, e => Assert.True(e.ForwardTicks > 0 && e.BackwardTicks > 0, e.Op));
        Assert.Equal([StepProfiler.AutogradPhase, "optimizer"], profiler.Phases.Select(p => p.Op).ToArray());

        double sum = profiler.Entries.Sum(e => e.ForwardMilliseconds(3) + e.BackwardMilliseconds(3)) + profiler.Phases.Sum(p => p.ForwardMilliseconds(3));
        Assert.Equal(sum, profiler.TotalMilliseconds(), 9);
    }

    [Fact]
    public void A_step_that_records_different_ops_is_refused_with_both_ops_named()
    {
        var backend = CpuBackend.Instance;
        using var x = Tensor.FromArray(TestRandom.Uniform(8, 1), new Shape(2, 4), backend);
        x.RequiresGrad = true;
        var profiler = new StepProfiler();
        var tape = Tape.Current;
        tape.Profiler = profiler;
        try
        {
            profiler.BeginStep(backend);
            Op.Relu(x);
            tape.Reset();
            profiler.BeginStep(backend);
            var e = Assert.Throws<InvalidOperationException>(() => Op.Reshape(x, new Shape(8)));
            Assert.Contains("Relu", e.Message);
            Assert.Contains("Reshape", e.Message);
        }
        finally { tape.Profiler = null; tape.Reset(); x.Grad?.Dispose(); }
    }
}
