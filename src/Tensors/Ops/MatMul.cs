using NativeConv.Tensors.Autograd;

namespace NativeConv.Tensors.Ops;

public static partial class Op
{
    /// <summary>
    /// c = op(a)·op(b): a (M, K) or, with transposeA, stored (K, M); b (K, N) or, with transposeB, stored (N, K); c (M, N).
    /// Backward (never materialising a transpose):
    ///   dA = dC·op(b)ᵀ (stored as dAᵀ = op(b)·dCᵀ when a was transposed), dB likewise.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transposeA = false, bool transposeB = false)
    {
        const string op = "MatMul";
        OpChecks.Rank(op, "a", a, 2, "(M, K)");
        OpChecks.Rank(op, "b", b, 2, "(K, N)");
        OpChecks.SameBackend(op, a, b);
        int m = transposeA ? a.Shape[1] : a.Shape[0];
        int ka = transposeA ? a.Shape[0] : a.Shape[1];
        int kb = transposeB ? b.Shape[1] : b.Shape[0];
        int n = transposeB ? b.Shape[0] : b.Shape[1];
        if (ka != kb)
            throw new ArgumentException($"{op}: inner dimensions differ: op(a) is ({m}, {ka}) from {a.Describe()}{(transposeA ? "ᵀ" : "")}, op(b) is ({kb}, {n}) from {b.Describe()}{(transposeB ? "ᵀ" : "")}; the columns of op(a) must equal the rows of op(b).");

        var tape = Tape.Current;
        var c = tape.NewTemporary(new Shape(m, n), a.Backend);
        a.Backend.MatMul(a, transposeA, b, transposeB, c, 1f, 0f);
        if (tape.NeedsGrad(a, b))
        {
            var node = MatMulNode.Rent();
            node.A = a; node.B = b; node.TransposeA = transposeA; node.TransposeB = transposeB;
            node.Output = c;
            tape.Record(node);
        }
        return c;
    }

    private sealed class MatMulNode : TapeNode<MatMulNode>
    {
        public Tensor A = null!, B = null!;
        public bool TransposeA, TransposeB;

        protected internal override void Backward(Tape tape)
        {
            var dc = Output.Grad!;
            var backend = dc.Backend;
            if (A.RequiresGrad)
            {
                var da = tape.GradOf(A);
                // op(a) = a: da += dc · op(b)ᵀ.   op(a) = aᵀ: da += op(b) · dcᵀ.
                if (!TransposeA) backend.MatMul(dc, false, B, !TransposeB, da, 1f, 1f);
                else backend.MatMul(B, TransposeB, dc, true, da, 1f, 1f);
            }
            if (B.RequiresGrad)
            {
                var db = tape.GradOf(B);
                // op(b) = b: db += op(a)ᵀ · dc.   op(b) = bᵀ: db += dcᵀ · op(a).
                if (!TransposeB) backend.MatMul(A, !TransposeA, dc, false, db, 1f, 1f);
                else backend.MatMul(dc, true, A, TransposeA, db, 1f, 1f);
            }
        }

        protected override void Clear() { A = null!; B = null!; }
    }
}
