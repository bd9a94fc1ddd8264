using NativeConv.Tests.Backends;
using NativeConv.Tests.Layers;
using NativeConv.Tensors;
using NativeConv.Tensors.Backends.Cpu.Kernels;
using NativeConv.Tensors.Geometry;
using NativeConv.Tests.Support;

namespace NativeConv.Tests.Kernels;

/// <summary>
/// The max-pool kernel at every vector width this machine runs (forced through the internal width parameter) against a
/// plain scalar reference of the documented rule, bitwise (any NaN equals any NaN): forward, backward accumulating onto
/// dx that holds ±0 and NaN, backward overwriting a poisoned dx.
/// </summary>
public class MaxPoolKernelTests
{
    /// <summary>Width names (the enum is internal): Vector512, Vector256, Vector128, Scalar — those the machine runs.</summary>
    public static TheoryData<string> Widths()
    {
        var data = new TheoryData<string>();
        foreach (string width in SupportedWidths()) data.Add(width);
        return data;
    }

    private static IEnumerable<string> SupportedWidths() =>
        new[] { VectorWidth.Vector512, VectorWidth.Vector256, VectorWidth.Vector128, VectorWidth.Scalar }
            .Where(MaxPoolKernel.IsSupported).Select(w => w.ToString());

    private static void AssertBits(float expected, float actual, string what)
    {
        if (!KernelSweep.SameBits(expected, actual)) Assert.Fail($"{what}: {actual:R} (bits {BitConverter.SingleToInt32Bits(actual):X8}), expected {expected:R} (bits {BitConverter.SingleToInt32Bits(expected):X8}).");
    }

    private static VectorWidth Parse(string width) => Enum.Parse<VectorWidth>(width);

    // ---------------------------------------------------------------- scalar reference (the documented rule, written plainly)

    // dx ← (dx + 0) + each routed dy in window order: dx + G with G = +0 + Σ dy (a −0 routed or nothing routed gives +0).
    private static void ReferenceBackward(float[] x, float[] dy, float[] dx, in PoolGeometry g)
    {
        for (int i = 0; i < dx.Length; i++) dx[i] += 0f;
        for (int p = 0; p < g.N * g.C; p++)
        for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++)
            dx[p * g.H * g.W + ScalarReference.ArgMax(x, p * g.H * g.W, g, oh, ow)] += dy[(p * g.OH + oh) * g.OW + ow];
    }

    private static void Check(float[] x, in PoolGeometry g, int seed, VectorWidth width, float[]? dyValues = null)
    {
        string context = $"MaxPool {width} {g.InputShape} window ({g.KH}, {g.KW}) stride ({g.StrideH}, {g.StrideW})";
        var y = KernelSweep.Poisoned(g.OutputShape.Size);
        MaxPoolKernel.Forward(x, y, g, width);
        KernelSweep.Exact(ScalarReference.MaxPool(x, g), y, context + " forward");

        var dy = dyValues ?? Special(y.Length, seed, nanRate: 0);
        var dx = Special(x.Length, seed + 1, nanRate: 0.02); // accumulates onto ±0, NaN and ordinary values
        var expected = (float[])dx.Clone();
        ReferenceBackward(x, dy, expected, g);
        MaxPoolKernel.Backward(x, dy, dx, g, accumulate: true, width);
        KernelSweep.Exact(expected, dx, context + " backward");

        // Overwriting (a fresh gradient): the poison dx held must vanish everywhere, under no window included.
        var fresh = new float[x.Length];
        ReferenceBackward(x, dy, fresh, g);
        var overwritten = KernelSweep.Poisoned(x.Length);
        MaxPoolKernel.Backward(x, dy, overwritten, g, accumulate: false, width);
        KernelSweep.Exact(fresh, overwritten, context + " backward, overwriting");
    }

    private static PoolGeometry Geometry(int n, int c, int h, int w, int kh, int kw, int sh, int sw) =>
        PoolGeometry.Create(new Shape(n, c, h, w), kh, kw, sh, sw);

    /// <summary>Values from a tiny set (windows full of ties), −0 and +0 mixed in, and NaN at the given rate.</summary>
    private static float[] Special(int length, int seed, double nanRate)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
            x[i] = rng.NextDouble() < nanRate ? float.NaN
                : rng.Next(6) switch { 0 => -0f, 1 => 0f, 2 => 1f, 3 => 2f, 4 => -1f, _ => (float)rng.NextDouble() - 0.5f };
        return x;
    }

    private static IEnumerable<float[]> Inputs(int length, int seed)
    {
        yield return TestRandom.Uniform(length, seed);
        yield return Special(length, seed + 1, nanRate: 0);
        yield return Special(length, seed + 2, nanRate: 0.05);
    }

    // ---------------------------------------------------------------- tests

    [Theory]
    [MemberData(nameof(Widths))]
    public void Pool2x2_matches_reference_at_every_row_width(string widthName)
    {
        var width = Parse(widthName);
        // OW 1..40 (+ odd W): every 16/8/4-lane block count, every tail, the half-vector two-rows-per-block path (OW 8, 4, 2)
        // with an even and an odd row count; planes (N·C) of 1, 3 and 5.
        for (int w = 2; w <= 81; w++)
        {
            foreach (var (n, c, h) in new[] { (1, 1, 2), (1, 3, 5), (5, 1, 6), (1, 1, 9) })
            {
                var g = Geometry(n, c, h, w, 2, 2, 2, 2);
                foreach (var x in Inputs(g.InputShape.Size, 31 * w + h))
                    Check(x, g, w + h, width);
            }
        }
        foreach (int w in new[] { 1000, 1031 })
        {
            var g = Geometry(1, 1, 3, w, 2, 2, 2, 2);
            foreach (var x in Inputs(g.InputShape.Size, w)) Check(x, g, w, width);
        }
    }

    public static TheoryData<string, int, int, int, int, int, int, int, int> Geometries()
    {
        int[][] cases =
        [
            [2, 3, 7, 9, 2, 2, 2, 2],     // odd H and W: the last row/column is dropped (floor)
            [3, 5, 16, 16, 2, 2, 2, 2],   // 8-wide output: rows processed in pairs at 16 lanes
            [2, 3, 7, 17, 2, 2, 2, 2],    // 8-wide output, odd row count (the last row alone) and a dropped column
            [2, 3, 15, 16, 2, 2, 2, 2],   // 8-wide output, 7 rows
            [2, 3, 7, 9, 3, 3, 2, 2],     // window 3 stride 2: overlapping
            [3, 7, 6, 5, 2, 2, 1, 1],     // window 2 stride 1: overlapping, accumulating
            [1, 1, 2, 2, 2, 2, 2, 2],     // a single window
            [2, 1, 9, 9, 3, 3, 3, 3],
            [1, 3, 8, 10, 2, 3, 1, 2],    // rectangular window and stride
            [1, 3, 5, 5, 5, 5, 1, 1],     // window = image
            [2, 3, 7, 8, 1, 1, 1, 1],     // 1×1 window: a copy
            [1, 2, 9, 11, 1, 1, 2, 3],    // 1×1 window, strides 2 and 3: a subsample
            [2, 2, 8, 9, 1, 2, 1, 2],
            [1, 3, 11, 7, 3, 1, 3, 1],
            [1, 2, 10, 10, 2, 2, 3, 3],   // stride > window: gaps under no window
            [1, 2, 13, 14, 3, 2, 2, 3],
            [4, 16, 64, 64, 2, 2, 2, 2],  // big enough to run in parallel
            [4, 16, 64, 64, 3, 3, 2, 2],
        ];
        var data = new TheoryData<string, int, int, int, int, int, int, int, int>();
        foreach (string width in SupportedWidths())
            foreach (var c in cases) data.Add(width, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]);
        return data;
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Any_window_and_stride_matches_reference(string widthName, int n, int c, int h, int w, int kh, int kw, int sh, int sw)
    {
        var g = Geometry(n, c, h, w, kh, kw, sh, sw);
        foreach (var x in Inputs(g.InputShape.Size, h * w + kh)) Check(x, g, 3, Parse(widthName));
    }

    /// <summary>The windows and strides of the general vector path (stride 1 loads, stride 2 de-interleaves, stride ≥ 3 gathers).</summary>
    internal static readonly (int KH, int KW, int SH, int SW)[] GeneralWindows =
        [(2, 2, 1, 1), (3, 3, 1, 1), (3, 3, 2, 2), (2, 3, 1, 2), (4, 4, 4, 4), (5, 5, 3, 3), (3, 2, 2, 1), (1, 3, 3, 2), (3, 1, 1, 3)];

    public static TheoryData<string, int> WidthsAndGeneralWindows()
    {
        var data = new TheoryData<string, int>();
        foreach (string width in SupportedWidths())
            for (int i = 0; i < GeneralWindows.Length; i++) data.Add(width, i);
        return data;
    }

    /// <summary>Zeros only, most of them −0 (so some windows hold nothing but −0), a few ±1 ties.</summary>
    private static float[] SignedZeros(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = rng.Next(20) switch { 0 => 0f, 1 => 1f, 2 => -1f, _ => -0f };
        return x;
    }

    [Theory]
    [MemberData(nameof(WidthsAndGeneralWindows))]
    public void General_windows_match_reference_on_every_side_from_1_to_37(string widthName, int windowIndex)
    {
        var width = Parse(widthName);
        var (kh, kw, sh, sw) = GeneralWindows[windowIndex];
        // Every width 1..37 at a few heights, then every height at a few widths: windows that do not tile (a dropped last
        // column or row), 0/1/several whole blocks at 16/8/4 lanes with every tail, and planes (N·C) of 1, 6 and 2.
        var shapes = new List<(int N, int C, int H, int W)>();
        for (int side = 1; side <= 37; side++)
        {
            foreach (int h in new[] { kh, kh + 1, 2 * kh + 3 }) shapes.Add((side % 3 == 0 ? 2 : 1, side % 2 == 0 ? 3 : 1, h, side));
            foreach (int w in new[] { kw, 17, 37 }) shapes.Add((1, side % 3 == 1 ? 2 : 1, side, w));
        }
        foreach (var (n, c, h, w) in shapes)
        {
            if (h < kh || w < kw) continue;
            var g = Geometry(n, c, h, w, kh, kw, sh, sw);
            int seed = 1000 * h + w;
            foreach (var x in Inputs(g.InputShape.Size, seed)) Check(x, g, seed, width);
            Check(SignedZeros(g.InputShape.Size, seed + 5), g, seed, width);
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void A_NaN_anywhere_in_a_window_wins_and_the_first_NaN_takes_the_gradient(string widthName)
    {
        var width = Parse(widthName);
        foreach (var (k, s, w) in new[] { (2, 2, 36), (2, 2, 16), (2, 2, 8), (2, 2, 4), (2, 2, 11), (3, 2, 19), (2, 1, 9), (3, 3, 12), (3, 1, 23),
                     (3, 2, 36), (4, 4, 37), (5, 3, 29), (2, 1, 37) })
        {
            var g = Geometry(2, 3, 2 * k + 2, w, k, k, s, s);
            for (int position = 0; position < k * k; position++)
            {
                // A NaN at `position` of every window (overlaps put more NaNs in some), and in every other window a second,
                // later NaN; NaN payloads differ so a lost "first" shows only through the gradient, not the value.
                var x = TestRandom.Uniform(g.InputShape.Size, 7 * position + w);
                int kh = position / k, kw = position % k, later = k * k - 1;
                for (int p = 0; p < g.N * g.C; p++)
                for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                {
                    int origin = p * g.H * g.W + oh * s * g.W + ow * s;
                    x[origin + kh * g.W + kw] = float.NaN;
                    if ((oh + ow) % 2 == 0 && later > position)
                        x[origin + (later / k) * g.W + later % k] = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001));
                }
                Check(x, g, position, width);

                var y = new float[g.OutputShape.Size];
                MaxPoolKernel.Forward(x, y, g, width);
                Assert.All(y, v => Assert.True(float.IsNaN(v)));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Signed_zeros_plus_zero_is_the_maximum_and_the_first_zero_takes_the_gradient(string widthName)
    {
        var width = Parse(widthName);
        // Every one of the 16 sign patterns of a 2×2 window of zeros, side by side in one row (16 windows: a whole AVX-512
        // block, two AVX2 blocks, four 128-bit ones) and in a 9-window row (tails).
        foreach (int windows in new[] { 16, 9 })
        {
            var g = Geometry(1, 1, 2, 2 * windows, 2, 2, 2, 2);
            var x = new float[g.InputShape.Size];
            for (int wi = 0; wi < windows; wi++)
                for (int e = 0; e < 4; e++)
                    x[(e / 2) * g.W + 2 * wi + e % 2] = ((wi >> e) & 1) == 1 ? -0f : 0f;
            var y = new float[g.OutputShape.Size];
            MaxPoolKernel.Forward(x, y, g, width);
            for (int wi = 0; wi < windows; wi++)
                AssertBits(wi == 15 ? -0f : 0f, y[wi], $"window {wi}"); // only the all-negative pattern gives −0

            // The gradient goes to the window's first element; a −0 gradient routes as +0, and dx = −0 elsewhere becomes +0.
            var dy = Enumerable.Range(0, windows).Select(i => i % 3 == 0 ? -0f : 1f).ToArray();
            var dx = Enumerable.Repeat(-0f, x.Length).ToArray();
            MaxPoolKernel.Backward(x, dy, dx, g, accumulate: true, width);
            for (int i = 0; i < dx.Length; i++)
            {
                bool first = i < g.W && i % 2 == 0;
                AssertBits(first && (i / 2) % 3 != 0 ? 1f : 0f, dx[i], $"dx[{i}]");
            }
            Check(x, g, 5, width, dy);
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Equal_values_send_the_whole_gradient_to_the_first_element(string widthName)
    {
        var width = Parse(widthName);
        foreach (var (pool, stride) in new[] { (2, 2), (3, 2), (3, 1), (2, 1), (4, 4), (5, 3) })
        {
            // Every window of a constant image is a tie (40 columns: whole blocks and tails at every width).
            var g = Geometry(1, 2, 6, 40, pool, pool, stride, stride);
            var x = new float[g.InputShape.Size];
            Array.Fill(x, 0.5f);
            var dy = new float[g.OutputShape.Size];
            Array.Fill(dy, 1f);
            var dx = new float[x.Length];
            MaxPoolKernel.Backward(x, dy, dx, g, accumulate: true, width);
            for (int p = 0; p < 2; p++)
            for (int r = 0; r < g.H; r++)
            for (int col = 0; col < g.W; col++)
            {
                // The first (top-left) element of each window gets dy; rows/columns that start no window get nothing.
                bool startsWindow = r % stride == 0 && r / stride < g.OH && col % stride == 0 && col / stride < g.OW;
                Assert.Equal(startsWindow ? 1f : 0f, dx[(p * g.H + r) * g.W + col]);
            }
        }
    }

    [Fact]
    public void Auto_is_the_widest_supported_width()
    {
        var g = Geometry(3, 5, 14, 30, 2, 2, 2, 2);
        var x = Special(g.InputShape.Size, 9, nanRate: 0.02);
        var auto = new float[g.OutputShape.Size];
        var widest = new float[g.OutputShape.Size];
        MaxPoolKernel.Forward(x, auto, g);
        MaxPoolKernel.Forward(x, widest, g, MaxPoolKernel.BestWidth);
        KernelSweep.Exact(widest, auto, "Auto vs " + MaxPoolKernel.BestWidth);
        Assert.NotEqual(VectorWidth.Auto, MaxPoolKernel.BestWidth);
    }
}

/// <summary>
/// The max-pool kernel gives the same bits on 1 and 2 threads at every width, for every general window and the 2×2 pool, on
/// tensors past the parallel threshold (planes split in chunks that depend only on the sizes). Sets ParallelFor.ThreadCount.
/// </summary>
[Collection(EngineSettingsCollection.Name)]
public class MaxPoolThreadingTests
{
    public static TheoryData<string> Widths() => MaxPoolKernelTests.Widths();

    private static float[] RunAll(VectorWidth width)
    {
        var results = new List<float>();
        foreach (var (kh, kw, sh, sw) in MaxPoolKernelTests.GeneralWindows.Append((2, 2, 2, 2)))
        {
            var g = PoolGeometry.Create(new Shape(3, 21, 37, 35), kh, kw, sh, sw); // 63 planes of 1295: 5 chunks of 12 and 3
            var rng = new Random(kh * 100 + kw * 10 + sh + sw);
            var x = new float[g.InputShape.Size];
            for (int i = 0; i < x.Length; i++)
                x[i] = rng.Next(50) == 0 ? float.NaN : rng.Next(4) switch { 0 => -0f, 1 => 0f, 2 => rng.Next(3), _ => (float)rng.NextDouble() };
            var dy = TestRandom.Uniform(g.OutputShape.Size, 3);
            var y = new float[g.OutputShape.Size];
            MaxPoolKernel.Forward(x, y, g, width);
            var dx = TestRandom.Uniform(x.Length, 4);
            MaxPoolKernel.Backward(x, dy, dx, g, accumulate: true, width);
            var fresh = KernelSweep.Poisoned(x.Length);
            MaxPoolKernel.Backward(x, dy, fresh, g, accumulate: false, width);
            results.AddRange(y);
            results.AddRange(dx);
            results.AddRange(fresh);
        }
        return [.. results];
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Max_pool_gives_the_same_bits_on_one_and_two_threads_at_every_width(string widthName)
    {
        var width = Enum.Parse<VectorWidth>(widthName);
        var reference = Threads.On(1, () => RunAll(VectorWidth.Scalar));
        KernelSweep.Exact(reference, Threads.On(1, () => RunAll(width)), $"{width}, 1 thread vs scalar");
        KernelSweep.Exact(reference, Threads.On(2, () => RunAll(width)), $"{width}, 2 threads vs scalar");
    }
}
