using NativeConv.Tensors;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;
using MaxPool = NativeConv.Tensors.Backends.Cpu.Kernels.MaxPool2D;

namespace NativeConv.Tests.Kernels;

public class MaxPool2DKernelTests
{
    // ---------------------------------------------------------------- scalar reference (the documented rule, written plainly)

    private static int ChosenIndex(float[] x, in PoolGeometry g, int plane, int oh, int ow)
    {
        // First NaN in row-major window order, else the first element equal to the maximum.
        int best = -1;
        float max = 0;
        for (int kh = 0; kh < g.KH; kh++)
        for (int kw = 0; kw < g.KW; kw++)
        {
            int i = plane * g.H * g.W + (oh * g.StrideH + kh) * g.W + ow * g.StrideW + kw;
            if (float.IsNaN(x[i])) return i;
            if (best < 0 || x[i] > max) { best = i; max = x[i]; }
        }
        return best;
    }

    private static float[] ReferenceForward(float[] x, in PoolGeometry g)
    {
        var y = new float[g.OutputShape.Size];
        for (int p = 0; p < g.N * g.C; p++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
        {
            float m = float.NegativeInfinity;
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
                m = MathF.Max(m, x[p * g.H * g.W + (oh * g.StrideH + kh) * g.W + ow * g.StrideW + kw]);
            y[(p * g.OH + oh) * g.OW + ow] = m;
        }
        return y;
    }

    private static void ReferenceBackward(float[] x, float[] dy, float[] dx, in PoolGeometry g)
    {
        for (int p = 0; p < g.N * g.C; p++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
            dx[ChosenIndex(x, g, p, oh, ow)] += dy[(p * g.OH + oh) * g.OW + ow];
    }

    private static void Check(float[] x, in PoolGeometry g, int seed)
    {
        string context = $"MaxPool2D {g.InputShape} window ({g.KH}, {g.KW}) stride ({g.StrideH}, {g.StrideW})";
        var y = KernelSweep.Poisoned(g.OutputShape.Size);
        MaxPool.Forward(x, y, g);
        KernelSweep.Exact(ReferenceForward(x, g), y, context + " forward");

        var dy = TestRandom.Uniform(y.Length, seed);
        var dx = TestRandom.Uniform(x.Length, seed + 1); // accumulates
        var expected = (float[])dx.Clone();
        ReferenceBackward(x, dy, expected, g);
        MaxPool.Backward(x, dy, dx, g);
        KernelSweep.Exact(expected, dx, context + " backward");

        // Overwriting (a fresh gradient): the poison dx held must vanish everywhere, under no window included.
        var fresh = new float[x.Length];
        ReferenceBackward(x, dy, fresh, g);
        var overwritten = KernelSweep.Poisoned(x.Length);
        MaxPool.Backward(x, dy, overwritten, g, accumulate: false);
        KernelSweep.Exact(fresh, overwritten, context + " backward, overwriting");
    }

    private static PoolGeometry Geometry(int n, int c, int h, int w, int kh, int kw, int sh, int sw) =>
        PoolGeometry.Create(new Shape(n, c, h, w), kh, kw, sh, sw);

    /// <summary>Values from a tiny set so that windows are full of ties, with −0/+0 mixed in.</summary>
    private static float[] TieHeavy(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = rng.Next(5) switch { 0 => -0f, 1 => 0f, 2 => 1f, 3 => 2f, _ => -1f };
        return x;
    }

    // ---------------------------------------------------------------- tests

    [Fact]
    public void Pool2x2_matches_reference_for_every_width()
    {
        // OW from 1 to 128 (+ odd W): every AVX-512 (16) / AVX2 (8) block count and scalar tail, random and tie-heavy data.
        for (int w = 2; w <= 257; w++)
        {
            var g = Geometry(2, 2, 5, w, 2, 2, 2, 2);
            Check(TestRandom.Uniform(g.InputShape.Size, w), g, w);
            Check(TieHeavy(g.InputShape.Size, w), g, w);
        }
        // Even sides: the 2×2 pool overwrites dx without reading it (every element under exactly one window).
        for (int w = 2; w <= 130; w += 2)
        {
            var g = Geometry(2, 3, 6, w, 2, 2, 2, 2);
            Check(TestRandom.Uniform(g.InputShape.Size, 7 * w), g, w);
            Check(TieHeavy(g.InputShape.Size, 7 * w), g, w);
        }
        foreach (int w in new[] { 1000, 1031 })
        {
            var g = Geometry(1, 1, 3, w, 2, 2, 2, 2);
            Check(TestRandom.Uniform(g.InputShape.Size, w), g, w);
        }
    }

    [Theory]
    [InlineData(2, 3, 7, 9, 2, 2, 2, 2)]     // odd H and W: the last row/column is dropped (floor)
    [InlineData(3, 5, 16, 16, 2, 2, 2, 2)]   // 8-wide output: rows processed in pairs
    [InlineData(2, 3, 7, 17, 2, 2, 2, 2)]    // 8-wide output, odd row count (the last row alone) and a dropped column
    [InlineData(2, 3, 15, 16, 2, 2, 2, 2)]   // 8-wide output, 7 rows
    [InlineData(2, 3, 7, 9, 3, 3, 2, 2)]     // window 3 stride 2: overlapping
    [InlineData(3, 17, 6, 5, 2, 2, 1, 1)]    // window 2 stride 1: overlapping, accumulating
    [InlineData(1, 1, 2, 2, 2, 2, 2, 2)]     // a single window
    [InlineData(2, 1, 9, 9, 3, 3, 3, 3)]
    [InlineData(1, 3, 8, 10, 2, 3, 1, 2)]    // rectangular window and stride
    [InlineData(1, 3, 5, 5, 5, 5, 1, 1)]     // window = image
    [InlineData(4, 16, 64, 64, 2, 2, 2, 2)]  // big enough to run in parallel
    [InlineData(4, 16, 64, 64, 3, 3, 2, 2)]
    public void Any_window_and_stride_matches_reference(int n, int c, int h, int w, int kh, int kw, int sh, int sw)
    {
        var g = Geometry(n, c, h, w, kh, kw, sh, sw);
        Check(TestRandom.Uniform(g.InputShape.Size, h * w), g, 3);
        Check(TieHeavy(g.InputShape.Size, h + w), g, 4);
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    public void Equal_values_send_the_whole_gradient_to_the_first_element(int pool, int stride)
    {
        // Every window of a constant image is a tie (40 columns: the 2×2 AVX-512 path runs too).
        var g = Geometry(1, 2, 6, 40, pool, pool, stride, stride);
        var x = new float[g.InputShape.Size];
        Array.Fill(x, 0.5f);
        var dy = new float[g.OutputShape.Size];
        Array.Fill(dy, 1f);
        var dx = new float[x.Length];
        MaxPool.Backward(x, dy, dx, g);
        for (int p = 0; p < 2; p++)
        for (int r = 0; r < g.H; r++)
        for (int col = 0; col < g.W; col++)
        {
            // The first (top-left) element of each window gets dy; rows/columns that start no window get nothing.
            bool startsWindow = r % stride == 0 && r / stride < g.OH && col % stride == 0 && col / stride < g.OW;
            Assert.Equal(startsWindow ? 1f : 0f, dx[(p * g.H + r) * g.W + col]);
        }
    }

    [Fact]
    public void NaN_propagates_forward_and_the_first_NaN_takes_the_gradient()
    {
        foreach (var (kh, s) in new[] { (2, 2), (3, 2) })
        {
            var g = Geometry(1, 1, 4, 36, kh, kh, s, s);
            var x = TestRandom.Uniform(g.InputShape.Size, 5);
            x[1] = float.NaN;               // top-right of window (0, 0)
            x[36 + 0] = float.NaN;          // bottom-left of window (0, 0): later in row-major order
            x[36 * 2 + 34] = float.NaN;     // a window in the vector range
            Check(x, g, 6);

            var y = new float[g.OutputShape.Size];
            MaxPool.Forward(x, y, g);
            Assert.True(float.IsNaN(y[0]));
            var dy = new float[y.Length];
            dy[0] = 1f;
            var dx = new float[x.Length];
            MaxPool.Backward(x, dy, dx, g);
            Assert.Equal(1f, dx[1]);
            Assert.Equal(0f, dx[36]);
        }
    }
}
