// Where an op's gradient rule returns input gradients: at the input's own shape, or at a broadcast
// shape that Broadcasting sums back to the input's shape (the one central place for that).
namespace OnnxLora.Autodiff.Ops;

internal enum GradientBroadcast
{
    /// <summary>Each input gradient comes back at its input's shape.</summary>
    None,

    /// <summary>Numpy broadcasting over all inputs: gradients come back at the output's shape (Add, Mul, Where …).</summary>
    Elementwise,

    /// <summary>
    /// Broadcasting of the leading (batch) dims of MatMul-like ops: exact when the second operand has rank 1 or 2
    /// (the rule works on the flattened product) or when both batch prefixes provably agree.
    /// </summary>
    BatchDims,
}
