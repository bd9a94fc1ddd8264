using NativeConv.Tensors;
using NativeConv.Tensors.Autograd;

namespace NativeConv.Tests.Gradients;

/// <summary>
/// Numerical gradient check by central differences, as a vector–Jacobian product: for a random upstream gradient r (fixed seed),
/// L(inputs) = Σ r ⊙ f(inputs), and every analytic dL/dx from the tape is compared with (L(x+h) − L(x−h)) / 2h.
///
/// Precision, chosen deliberately: the kernels are float32, so (unlike PyTorch's float64 gradcheck with h = 1e-6) the step
/// must be large enough that float32 rounding of L — about 1e-7·Σ|r·y| — divided by 2h stays well under the tolerance.
/// h = 1e-2 with L accumulated in double gives a rounding error near 1e-5 relative. Every op here is either linear in each
/// input (conv, matmul, bias, pooling within a fixed argmax, ReLU away from 0: central differences are then EXACT up to
/// rounding) or smooth (softmax-CE: truncation error O(h²·f''') ≈ 1e-4). Hence rtol 1e-2 and atol 1e-3 leave two orders of
/// magnitude of margin, while a wrong backward (a missing term, a wrong index, a transposed operand) is off by O(1).
/// Inputs to kinked ops must keep their kinks farther than h (see TestRandom.AwayFromZero / Distinct).
/// </summary>
public static class GradCheck
{
    public sealed record Mismatch(string Input, int Index, double Analytic, double Numeric);

    public sealed record Result(int Checked, double MaxAbsError, double MaxRelError, IReadOnlyList<Mismatch> Mismatches)
    {
        public bool Passed => Mismatches.Count == 0;

        public override string ToString() =>
            $"{Checked} derivatives checked, max abs error {MaxAbsError:G3}, max rel error {MaxRelError:G3}, {Mismatches.Count} mismatches" +
            (Mismatches.Count == 0 ? "" : ":\n  " + string.Join("\n  ", Mismatches.Take(10).Select(m =>
                $"{m.Input}[{m.Index}]: analytic {m.Analytic:G6}, numeric {m.Numeric:G6}")));
    }

    /// <summary>
    /// Checks d(Σ r·f)/d(input) for every input with RequiresGrad. At most <paramref name="maxPerInput"/> elements per input are
    /// probed (a seeded random subset when larger), so big conv weights stay fast.
    /// </summary>
    public static Result Run(Func<Tensor[], Tensor> f, Tensor[] inputs, int seed = 1234, double step = 1e-2,
        double rtol = 1e-2, double atol = 1e-3, int maxPerInput = 300)
    {
        var tape = Tape.Current;
        tape.Reset();
        foreach (var t in inputs) { t.Grad?.Dispose(); t.SetGrad(null); }

        // Analytic: one backward with the random upstream gradient r.
        var y = f(inputs);
        var r = TestRandomUpstream(y.Length, seed);
        using (var seedTensor = Tensor.FromArray(r, y.Shape, y.Backend))
            y.Backward(seedTensor);
        var analytic = inputs.Select(t => t.RequiresGrad ? t.Grad?.ToArray() ?? new float[t.Length] : null).ToArray();
        tape.Reset();

        var mismatches = new List<Mismatch>();
        double maxAbs = 0, maxRel = 0;
        int checkedCount = 0;
        var rng = new Random(seed + 1);
        for (int input = 0; input < inputs.Length; input++)
        {
            var t = inputs[input];
            if (!t.RequiresGrad) continue;
            var values = t.ToArray();
            IEnumerable<int> indices = values.Length <= maxPerInput
                ? Enumerable.Range(0, values.Length)
                : Enumerable.Range(0, maxPerInput).Select(_ => rng.Next(values.Length)).Distinct();
            foreach (int i in indices)
            {
                float original = values[i];
                values[i] = (float)(original + step);
                t.CopyFrom(values);
                double plus = Objective(f, inputs, r);
                values[i] = (float)(original - step);
                t.CopyFrom(values);
                double minus = Objective(f, inputs, r);
                values[i] = original;
                t.CopyFrom(values);

                // The step actually taken in float32 may differ slightly from ±step.
                double h2 = (double)(float)(original + step) - (float)(original - step);
                double numeric = (plus - minus) / h2;
                double a = analytic[input]![i];
                double abs = Math.Abs(a - numeric);
                double rel = abs / Math.Max(Math.Abs(numeric), 1e-12);
                maxAbs = Math.Max(maxAbs, abs);
                if (Math.Abs(numeric) > atol) maxRel = Math.Max(maxRel, rel);
                if (abs > atol + rtol * Math.Abs(numeric))
                    mismatches.Add(new Mismatch(t.Name ?? $"input{input}", i, a, numeric));
                checkedCount++;
            }
        }
        foreach (var t in inputs) { t.Grad?.Dispose(); t.SetGrad(null); }
        return new Result(checkedCount, maxAbs, maxRel, mismatches);
    }

    /// <summary>Asserts the check passes, printing the worst mismatches otherwise.</summary>
    public static void Assert(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var result = Run(f, inputs);
        Xunit.Assert.True(result.Passed, result.ToString());
        Xunit.Assert.True(result.Checked > 0, "No derivative was checked: no input has RequiresGrad.");
    }

    /// <summary>A persistent input with RequiresGrad set and a name for messages.</summary>
    public static Tensor Input(string name, float[] values, Shape shape)
    {
        var t = Tensor.FromArray(values, shape);
        t.RequiresGrad = true;
        t.Name = name;
        return t;
    }

    private static double Objective(Func<Tensor[], Tensor> f, Tensor[] inputs, float[] r)
    {
        var tape = Tape.Current;
        double sum = 0;
        using (Tape.NoGrad())
        {
            var y = f(inputs);
            var values = y.ToArray();
            for (int i = 0; i < values.Length; i++) sum += (double)values[i] * r[i];
        }
        tape.Reset();
        return sum;
    }

    private static float[] TestRandomUpstream(int length, int seed)
    {
        var rng = new Random(seed);
        var r = new float[length];
        for (int i = 0; i < length; i++) r[i] = (float)(rng.NextDouble() * 2 - 1);
        return r;
    }
}
