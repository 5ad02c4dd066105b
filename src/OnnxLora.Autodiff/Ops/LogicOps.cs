// Op records of comparisons, boolean logic and rounding: elementwise, and no gradient flows
// through them (their outputs are bool, or piecewise constant). Shape rules as far as the graphs
// we differentiate need them; no element-type rules yet.
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff.Ops;

internal static class LogicOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = A op B (bool), broadcasting
        .. new[] { "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor" }
            .Select(static op => Constant(op, ShapeRules.Elementwise)),
        // Y = not X
        Constant("Not", ShapeRules.SameAsInput0),
        // Y = isnan(X), isinf(X), sign(X), floor(X), ceil(X), round(X)
        .. new[] { "IsNaN", "IsInf", "Sign", "Floor", "Ceil", "Round" }.Select(static op => Constant(op, null)),
    ];

    private static OpRecord Constant(string opType, ShapeRule? shape) => new(opType)
    {
        StopsGradient = OpRecord.Always,
        Shape = shape,
        Elementwise = true,
    };
}
