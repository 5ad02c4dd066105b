// Gradients of Y = A @ B (numpy semantics: batch dims broadcast, 1-D operands promoted).
// A (...,M,K)  B (...,K,N)  Y (...,M,N);  P = product of A's leading dims.
// A rank-2 (or 1-D) B is differentiated through the flattened product (no batch-dim reduction);
// otherwise the gradients come back at the broadcast shape and Broadcasting reduces them.
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff;

internal static class MatMulGradient
{
    // dA = GY @ Bᵀ
    public static string OfA(GradientContext g)
    {
        var (a, b, gy) = (g.I(0), g.I(1), g.GY);
        int? ra = g.Rank(a), rb = g.Rank(b);
        if (ra == 1 && rb == 1)
        {
            // Y = Σ_k A_k B_k (a scalar)
            return g.Mul(gy, b);
        }
        if (rb == 1)
        {
            // Y (...,M) = A (...,M,K) @ B (K);  dA = GY[..., None] @ B[None, :]
            return g.B.MatMul(g.B.Unsqueeze(gy, -1), g.B.Unsqueeze(b, 0));
        }
        if (ra == 1 && rb != 2)
        {
            // Y (...,N) = A (K) @ B (...,K,N);  dA (...,1,K) = GY[..., None, :] @ Bᵀ, reduced centrally
            return g.B.MatMul(g.B.Unsqueeze(gy, -2), TransposeLastTwo(g, b));
        }
        return g.B.MatMul(gy, TransposeLastTwo(g, b));
    }

    // dB = Aᵀ @ GY
    public static string OfB(GradientContext g)
    {
        var (a, b, gy) = (g.I(0), g.I(1), g.GY);
        int? ra = g.Rank(a), rb = g.Rank(b);
        if (ra == 1 && rb == 1)
        {
            return g.Mul(gy, a);
        }
        if (rb is 1 or 2)
        {
            // A2 = A as (P,K).  B (K,N): dB = A2ᵀ (K,P) @ GY as (P,N).  B (K): dB = GY as (P) @ A2
            var a2 = g.B.Reshape(a, Flat2(g, a, g.Shapes.Of(g.Node.Input(0))));
            if (rb == 1)
            {
                return g.B.MatMul(g.B.Reshape(gy, -1), a2);
            }
            return g.B.MatMul(g.B.Transpose(a2, 1, 0), g.B.Reshape(gy, Flat2(g, gy, g.Shapes.Of(g.Node.Outputs[0]))));
        }
        if (ra == 1)
        {
            // Y (...,N) = A (K) @ B (...,K,N);  dB (...,K,N) = A[:, None] @ GY[..., None, :]
            return g.B.MatMul(g.B.Unsqueeze(a, -1), g.B.Unsqueeze(gy, -2));
        }
        return g.B.MatMul(TransposeLastTwo(g, a), gy);
    }

    /// <summary>The shape [-1, last dim of x]: a constant when the last dim is known statically, else read at runtime.</summary>
    private static string Flat2(GradientContext g, string x, SymbolicDim[]? shape) =>
        shape is { Length: > 0 } s && s[^1].Value is { } last
            ? g.B.Ints(-1, last)
            : g.B.Concat(0, g.B.Ints(-1), g.B.Op("Shape", [x], ("start", -1L)));

    /// <summary>Swaps the last two axes: one Transpose when the rank is known, else via a rank-3 view.</summary>
    private static string TransposeLastTwo(GradientContext g, string x)
    {
        if (g.Rank(x) is { } r and >= 2)
        {
            var perm = Enumerable.Range(0, r).Select(i => (long)i).ToArray();
            (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
            if (g.Options.WeightTransposeViews && g.B.Graph.IsInitializer(x))
            {
                // Transpose(weight) would be constant-folded by ORT into a transposed copy of every frozen
                // weight. Through a view it stays a runtime Transpose, which ORT fuses into the MatMul
                // (FusedMatMul transB): no copy is stored and none is made per step.
                var w = x;
                x = g.Shared("View:" + w, () => Rematerializer.OrderedView(g.B, w, g.GY));
            }
            return g.B.Transpose(x, perm);
        }
        // X (...,M,K) → (P',M,K) → (P',K,M) → (...,K,M)
        var batch = g.B.Shape(x, 0, -2);
        var m = g.B.Shape(x, -2, -1);
        var k = g.B.Op("Shape", [x], ("start", -1L));
        var x3 = g.B.Reshape(x, g.B.Concat(0, g.B.Ints(-1), m, k));
        return g.B.Reshape(g.B.Transpose(x3, 0, 2, 1), g.B.Concat(0, batch, k, m));
    }
}
