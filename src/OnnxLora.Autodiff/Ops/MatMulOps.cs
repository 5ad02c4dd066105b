// Op records of matrix products. MatMul's rules (numpy semantics, 1-D operands, flattened weight
// gradients) live in MatMulGradient; batch dims that broadcast are reduced by Broadcasting.
using OnnxLora.Autodiff.Shapes;

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
    ];
}
