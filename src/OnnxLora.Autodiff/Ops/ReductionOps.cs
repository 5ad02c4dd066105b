// Op records of reductions along axes: ReduceSum, ReduceMean, Softmax, LogSoftmax (and ArgMax/ArgMin,
// which carry no gradient). The Reduce* rules are long and live in ReduceGradient.
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff.Ops;

internal static class ReductionOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = ReduceSum(X, axes) / ReduceMean(X, axes);  dX = GY with the axes kept, expanded to Shape(X) (/ count)
        new("ReduceSum") { Gradient = static g => [ReduceGradient.OfSum(g), null], Shape = ShapeRules.Reduce, Type = TypeRules.FromInput0 },
        new("ReduceMean") { Gradient = static g => [ReduceGradient.OfMean(g), null], Shape = ShapeRules.Reduce, Type = TypeRules.FromInput0 },
        // Y = softmax(X, axis);  dX = Y * (GY - Σ_axis GY*Y)
        new("Softmax")
        {
            Gradient = static g => [g.Mul(g.O(0), g.Sub(g.GY, SumOverAxis(g, g.Mul(g.GY, g.O(0)))))],
            Shape = ShapeRules.SameAsInput0,
            Type = TypeRules.FromInput0,
        },
        // Y = log_softmax(X, axis);  dX = GY - exp(Y) * Σ_axis GY
        new("LogSoftmax")
        {
            Gradient = static g => [g.Sub(g.GY, g.Mul(g.B.Exp(g.O(0)), SumOverAxis(g, g.GY)))],
            Shape = ShapeRules.SameAsInput0,
            Type = TypeRules.FromInput0,
        },
        // Y = argmax/argmin(X, axis): indices
        new("ArgMax") { StopsGradient = OpRecord.Always },
        new("ArgMin") { StopsGradient = OpRecord.Always },
    ];

    private static string SumOverAxis(GradientContext g, string x) => g.B.ReduceSum(x, [g.Int("axis", -1)], keepDims: true);
}
