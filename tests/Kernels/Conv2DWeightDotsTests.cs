using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class Conv2DWeightDotsTests
{
    // Lengths 0..80 plus 257 and 1031 hit every vector width and tail; m, n cover the 4×4 blocks, the 4×1 column edge and
    // the single-row edge.
    [Theory]
    [MemberData(nameof(VectorWidths.All), MemberType = typeof(VectorWidths))]
    public void Matches_scalar_reference_for_every_length_and_edge(VectorWidth vectors)
    {
        var lengths = Enumerable.Range(0, 81).Append(257).Append(1031);
        int seed = 1;
        foreach (int length in lengths)
        foreach (var (m, n) in new[] { (1, 1), (4, 4), (5, 9), (16, 9), (7, 27), (3, 6) })
        {
            int lda = length + 3, ldb = length + 1, ldc = n + 2;
            var a = TestRandom.Uniform(m * lda, seed++);
            var b = TestRandom.Uniform(n * ldb, seed++);
            foreach (bool overwrite in new[] { true, false })
            {
                var c = TestRandom.Uniform(m * ldc, seed++);
                if (overwrite) TestRandom.Poison(c);
                var before = (float[])c.Clone();
                Conv2DWeightDots.Accumulate(a, lda, b, ldb, m, n, length, c, ldc, overwrite, vectors);
                for (int i = 0; i < m; i++)
                for (int j = 0; j < ldc; j++)
                {
                    float actual = c[i * ldc + j];
                    if (j >= n)
                    {
                        // Padding columns of c stay untouched.
                        Assert.Equal(BitConverter.SingleToInt32Bits(before[i * ldc + j]), BitConverter.SingleToInt32Bits(actual));
                        continue;
                    }
                    double dot = overwrite ? 0 : before[i * ldc + j], scale = Math.Abs(dot);
                    for (int p = 0; p < length; p++)
                    {
                        double term = (double)a[i * lda + p] * b[j * ldb + p];
                        dot += term;
                        scale += Math.Abs(term);
                    }
                    Assert.True(Math.Abs(actual - dot) <= 1e-5 * scale + 1e-6,
                        $"{vectors}: length {length}, ({m}×{n}), overwrite {overwrite}: c[{i},{j}] = {actual}, expected {dot}");
                }
            }
        }
    }

    // The scalar width is the plain loop it always was: every element a*b added in order from 0, so bitwise the naive sum.
    [Fact]
    public void Scalar_width_is_the_sequential_float_sum()
    {
        foreach (int length in new[] { 0, 1, 7, 33, 1031 })
        {
            var a = TestRandom.Uniform(5 * length, length + 1);
            var b = TestRandom.Uniform(3 * length, length + 2);
            var c = new float[15];
            Conv2DWeightDots.Accumulate(a, length, b, length, 5, 3, length, c, 3, overwrite: true, VectorWidth.Scalar);
            for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
            {
                float dot = 0f;
                for (int p = 0; p < length; p++) dot += a[i * length + p] * b[j * length + p];
                if (i == 4) dot = System.Numerics.Tensors.TensorPrimitives.Dot(a.AsSpan(4 * length, length), b.AsSpan(j * length, length));
                Assert.Equal(BitConverter.SingleToInt32Bits(dot), BitConverter.SingleToInt32Bits(c[i * 3 + j]));
            }
        }
    }

    [Fact]
    public void Rejects_operands_too_small()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Conv2DWeightDots.Accumulate(new float[10], 5, new float[10], 5, 3, 2, 5, new float[6], 2, true));
        Assert.Contains("Conv2DWeightDots", ex.Message);
    }
}
