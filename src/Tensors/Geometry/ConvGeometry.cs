namespace NativeConv.Tensors.Geometry;

/// <summary>
/// Every size a 2-D convolution kernel needs, resolved once per call:
/// input (N, C, H, W), weights (OC, C, KH, KW), output (N, OC, OH, OW).
/// PadTop/PadLeft are the zero rows/columns before the image; the bottom/right padding is implied by OH/OW.
/// </summary>
public readonly record struct ConvGeometry(
    int N, int C, int H, int W,
    int OC, int KH, int KW,
    int StrideH, int StrideW,
    int PadTop, int PadLeft,
    int OH, int OW)
{
    /// <summary>Rows of the im2col matrix: C·KH·KW.</summary>
    public int PatchSize => C * KH * KW;

    /// <summary>Output pixels per image: OH·OW.</summary>
    public int OutputPixels => OH * OW;

    public Shape InputShape => new(N, C, H, W);
    public Shape WeightShape => new(OC, C, KH, KW);
    public Shape OutputShape => new(N, OC, OH, OW);

    /// <summary>
    /// Resolves the output size and padding, or throws with a message naming the op and the fix.
    /// </summary>
    public static ConvGeometry Create(Shape input, Shape weight, int strideH, int strideW, Padding padding, string op = "Conv2D")
    {
        if (input.Rank != 4)
            throw new ArgumentException($"{op}: input must be (N, C, H, W); got shape {input}. Reshape the batch to NCHW first.");
        if (weight.Rank != 4)
            throw new ArgumentException($"{op}: weights must be (OC, C, KH, KW); got shape {weight}.");
        int n = input[0], c = input[1], h = input[2], w = input[3];
        int oc = weight[0], kh = weight[2], kw = weight[3];
        if (weight[1] != c)
            throw new ArgumentException($"{op}: input has {c} channels but the weights {weight} expect {weight[1]}; the layer's in-channels must match the previous layer's out-channels.");
        if (n == 0)
            throw new ArgumentException($"{op}: the batch is empty (input {input}); pass at least one image.");
        if (kh < 1 || kw < 1 || oc < 1)
            throw new ArgumentException($"{op}: weights {weight} must have at least one output channel and a kernel of at least 1×1.");
        if (strideH < 1 || strideW < 1)
            throw new ArgumentException($"{op}: stride ({strideH}, {strideW}) must be >= 1.");

        int oh, ow, padTop, padLeft;
        switch (padding.Mode)
        {
            case PaddingMode.Valid:
                padTop = padLeft = 0;
                oh = h >= kh ? (h - kh) / strideH + 1 : 0;
                ow = w >= kw ? (w - kw) / strideW + 1 : 0;
                break;
            case PaddingMode.Same:
                oh = (h + strideH - 1) / strideH;
                ow = (w + strideW - 1) / strideW;
                padTop = Math.Max((oh - 1) * strideH + kh - h, 0) / 2;
                padLeft = Math.Max((ow - 1) * strideW + kw - w, 0) / 2;
                break;
            default:
                if (padding.Height < 0 || padding.Width < 0)
                    throw new ArgumentException($"{op}: padding {padding} must not be negative.");
                padTop = padding.Height;
                padLeft = padding.Width;
                int hp = h + 2 * padding.Height, wp = w + 2 * padding.Width;
                oh = hp >= kh ? (hp - kh) / strideH + 1 : 0;
                ow = wp >= kw ? (wp - kw) / strideW + 1 : 0;
                break;
        }
        if (oh < 1 || ow < 1)
            throw new ArgumentException($"{op}: a {kh}×{kw} kernel with stride ({strideH}, {strideW}) and {padding} padding leaves no output for a {h}×{w} input; use 'same' padding or a smaller kernel.");
        return new ConvGeometry(n, c, h, w, oc, kh, kw, strideH, strideW, padTop, padLeft, oh, ow);
    }
}
