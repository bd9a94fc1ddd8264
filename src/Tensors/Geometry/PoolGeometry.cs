namespace NativeConv.Tensors.Geometry;

/// <summary>
/// Sizes of a 2-D max pool with no padding (Keras "valid", floor division):
/// input (N, C, H, W) -> output (N, C, OH, OW), OH = (H − KH) / SH + 1.
/// </summary>
public readonly record struct PoolGeometry(int N, int C, int H, int W, int KH, int KW, int StrideH, int StrideW, int OH, int OW)
{
    public Shape InputShape => new(N, C, H, W);
    public Shape OutputShape => new(N, C, OH, OW);

    public static PoolGeometry Create(Shape input, int kh, int kw, int strideH, int strideW, string op = "MaxPool2D")
    {
        if (input.Rank != 4)
            throw new ArgumentException($"{op}: input must be (N, C, H, W); got shape {input}.");
        if (input[0] == 0)
            throw new ArgumentException($"{op}: the batch is empty (input {input}); pass at least one image.");
        if (kh < 1 || kw < 1 || strideH < 1 || strideW < 1)
            throw new ArgumentException($"{op}: pool size ({kh}, {kw}) and stride ({strideH}, {strideW}) must be >= 1.");
        int h = input[2], w = input[3];
        if (h < kh || w < kw)
            throw new ArgumentException($"{op}: a {kh}×{kw} window does not fit a {h}×{w} input {input}; pool earlier or use a smaller window.");
        return new PoolGeometry(input[0], input[1], h, w, kh, kw, strideH, strideW, (h - kh) / strideH + 1, (w - kw) / strideW + 1);
    }
}
