using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Backends.Cpu.Kernels.Conv;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

public class Im2ColTests
{
    [Theory]
    [MemberData(nameof(VectorWidths.All), MemberType = typeof(VectorWidths))]
    public void ImageToColumns_matches_scalar_reference_on_awkward_shapes(VectorWidth vectors)
    {
        int checkedCases = 0;
        foreach (var testCase in ConvReference.AwkwardCases())
        {
            var g = testCase.Geometry;
            int imageSize = g.C * g.H * g.W, pixels = g.OutputPixels;
            var x = TestRandom.Uniform(g.N * imageSize, checkedCases + 1);
            // All N images side by side in one wide matrix, with 3 spare columns that must stay untouched.
            int stride = g.N * pixels + 3;
            var expected = new float[g.PatchSize * stride];
            var actual = new float[g.PatchSize * stride];
            TestRandom.Poison(expected);
            TestRandom.Poison(actual);
            // Images in reverse order: a copy that ran past its own image's part of a row would clobber a neighbour
            // written before it (as parallel groups and channel splits may do).
            for (int n = g.N - 1; n >= 0; n--)
            {
                var image = x.AsSpan(n * imageSize, imageSize);
                ConvReference.Im2Col(image, expected.AsSpan(n * pixels), stride, g);
                Im2Col.ImageToColumns(image, actual.AsSpan(n * pixels), stride, g, vectors);
            }
            AssertBitwise(expected, actual, testCase.ToString());
            checkedCases++;
        }
        Assert.True(checkedCases > 200, $"only {checkedCases} cases");
    }

    [Theory]
    [MemberData(nameof(VectorWidths.All), MemberType = typeof(VectorWidths))]
    public void ColumnsToImageAdd_matches_scalar_reference_and_accumulates(VectorWidth vectors)
    {
        int seed = 100;
        foreach (var testCase in ConvReference.AwkwardCases())
        {
            var g = testCase.Geometry;
            int imageSize = g.C * g.H * g.W, pixels = g.OutputPixels, stride = g.N * pixels + 2;
            var col = TestRandom.Uniform(g.PatchSize * stride, seed++);
            var initial = TestRandom.Uniform(g.N * imageSize, seed++); // col2im adds to what is there
            var expected = (float[])initial.Clone();
            var actual = (float[])initial.Clone();
            for (int n = 0; n < g.N; n++)
            {
                ConvReference.Col2ImAdd(col.AsSpan(n * pixels), stride, expected.AsSpan(n * imageSize, imageSize), g);
                Im2Col.ColumnsToImageAdd(((float[])col.Clone()).AsSpan(n * pixels), stride, actual.AsSpan(n * imageSize, imageSize), g, vectors);
            }
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])),
                    $"{testCase}: pixel {i} is {actual[i]}, expected {expected[i]}");
        }
    }

    [Fact]
    public void Col2Im_is_the_adjoint_of_Im2Col()
    {
        int seed = 7;
        foreach (var testCase in ConvReference.AwkwardCases())
        {
            var g = testCase.Geometry;
            int imageSize = g.C * g.H * g.W, colSize = g.PatchSize * g.OutputPixels;
            var x = TestRandom.Uniform(imageSize, seed++);
            var c = TestRandom.Uniform(colSize, seed++);
            var col = new float[colSize];
            Im2Col.ImageToColumns(x, col, g.OutputPixels, g);
            var back = new float[imageSize];
            Im2Col.ColumnsToImageAdd((float[])c.Clone(), g.OutputPixels, back, g); // col2im may zero padding entries of its input
            double lhs = 0, rhs = 0, scale = 0;
            for (int i = 0; i < colSize; i++) { lhs += (double)col[i] * c[i]; scale += Math.Abs((double)col[i] * c[i]); }
            for (int i = 0; i < imageSize; i++) rhs += (double)x[i] * back[i];
            Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * scale + 1e-9, $"{testCase}: <im2col(x), c> = {lhs}, <x, col2im(c)> = {rhs}");
        }
    }

    // Row lengths 1..70 and 257 so every vector width, the overlapping copy tail and the scalar tails are hit.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Stride_one_rows_of_every_width(int stride)
    {
        var widths = Enumerable.Range(1, 70).Append(257);
        foreach (var vectors in VectorWidths.Supported)
        foreach (int width in widths)
        foreach (var padding in new[] { Padding.Same, Padding.Valid, Padding.Explicit(2, 1) })
        {
            if (padding == Padding.Valid && width < 3) continue;
            var g = ConvGeometry.Create(new Shape(1, 2, 3, width), new Shape(1, 2, 3, 3), 1, stride, padding);
            var x = TestRandom.Uniform(g.C * g.H * g.W, width);
            var expected = new float[g.PatchSize * g.OutputPixels];
            var actual = new float[expected.Length];
            TestRandom.Poison(actual);
            ConvReference.Im2Col(x, expected, g.OutputPixels, g);
            Im2Col.ImageToColumns(x, actual, g.OutputPixels, g, vectors);
            AssertBitwise(expected, actual, $"{vectors}: width {width} {padding} stride (1,{stride})");

            var initial = TestRandom.Uniform(x.Length, width + 1000);
            var back = (float[])initial.Clone();
            var backExpected = (float[])initial.Clone();
            ConvReference.Col2ImAdd(expected, g.OutputPixels, backExpected, g);
            Im2Col.ColumnsToImageAdd((float[])expected.Clone(), g.OutputPixels, back, g, vectors);
            for (int i = 0; i < back.Length; i++)
                Assert.True(Math.Abs(back[i] - backExpected[i]) <= 1e-5f * (1 + Math.Abs(backExpected[i])), $"{vectors}: col2im width {width} {padding} pixel {i}");
        }
    }

    [Fact]
    public void Rejects_spans_too_small_for_the_geometry()
    {
        var g = ConvGeometry.Create(new Shape(1, 2, 5, 5), new Shape(1, 2, 3, 3), 1, 1, Padding.Same);
        var ex = Assert.Throws<ArgumentException>(() => Im2Col.ImageToColumns(new float[49], new float[g.PatchSize * 25], 25, g));
        Assert.Contains("Im2Col", ex.Message);
        Assert.Throws<ArgumentException>(() => Im2Col.ColumnsToImageAdd(new float[10], 25, new float[50], g));
    }

    private static void AssertBitwise(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]}, expected {expected[i]}");
    }
}
