// Op records of matrix products. MatMul's rules (numpy semantics, 1-D operands, flattened weight
// gradients) live in MatMulGradient; batch dims that broadcast are reduced by Broadcasting. The int4
// linear (com.microsoft MatMulNBits, frozen weight) has a dA rule only: MatMulNBitsGradient.
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Ops;

internal static class MatMulOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = A @ B;  dA = GY @ Bᵀ,  dB = Aᵀ @ GY
        new("MatMul")
        {
            Gradient = static g => [g.Need(0, () => MatMulGradient.OfA(g)), g.Need(1, () => MatMulGradient.OfB(g))],
            Shape = ShapeRules.MatMul,
            Type = TypeRules.FromInput0,
            Broadcast = GradientBroadcast.BatchDims,
        },

        // Y = MatMulNBits(A, B_q4, scales, zero_points) = A @ W (W int4, frozen);  dA = GY @ Wᵀ, Wᵀ dequantized in the backward
        new(new OpKey(Model.MicrosoftDomain, "MatMulNBits"))
        {
            Gradient = static g => [g.Need(0, () => MatMulNBitsGradient.OfA(g)), .. Enumerable.Repeat<string?>(null, g.InputCount - 1)],
            Shape = static c => c.Input(0) is { Length: >= 1 } a && c.Node.GetInt("N", -1) is > 0 and var n ? [.. a[..^1], n] : null,
            Type = TypeRules.FromInput0,
        },
    ];
}
