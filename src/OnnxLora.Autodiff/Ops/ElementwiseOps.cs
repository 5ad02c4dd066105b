// Op records of the elementwise family: arithmetic, activations, Where, Cast, Dropout and Trilu.
// Binary ops broadcast (numpy): their rules return gradients at the output's shape and Broadcasting
// reduces them, never the rule. Rules restate the forward line; GO(i) is the gradient arriving at
// output i (GY = GO(0)), the returned array holds one gradient per input (null where not required).
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Ops;

internal static class ElementwiseOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = A + B
        Binary("Add", static g => [g.GY, g.GY]),
        // Y = A - B
        Binary("Sub", static g => [g.GY, g.Need(1, () => g.Neg(g.GY))]),
        // Y = A * B
        Binary("Mul", static g => [g.Need(0, () => g.Mul(g.GY, g.I(1))), g.Need(1, () => g.Mul(g.GY, g.I(0)))]),
        // Y = A / B;  dB = -GY * A / B² = -GY * Y / B
        Binary("Div", static g => [g.Need(0, () => g.Div(g.GY, g.I(1))), g.Need(1, () => g.Neg(g.Div(g.Mul(g.GY, g.O(0)), g.I(1))))]),
        // Y = A0 + A1 + ...
        Binary("Sum", static g => [.. Enumerable.Repeat(g.GY, g.InputCount)]),
        // Y = A ^ E;  dA = GY * E * A^(E-1),  dE = GY * Y * ln A
        Binary("Pow", static g => [g.Need(0, () => g.Mul(g.GY, PowDerivative(g))), g.Need(1, () => g.Mul(g.GY, g.Mul(g.O(0), g.B.Log(g.I(0)))))]),
        // Y = max(A, B) / min(A, B): the gradient goes to the chosen operand (A on ties)
        Binary("Max", static g => MinMax(g, "GreaterOrEqual")),
        Binary("Min", static g => MinMax(g, "LessOrEqual")),
        // Y = Where(C, A, B): typed like A, which is input 1, so no type rule
        new("Where")
        {
            Gradient = static g => [null, g.Need(1, () => g.B.Where(g.I(0), g.GY, g.Zero)), g.Need(2, () => g.B.Where(g.I(0), g.Zero, g.GY))],
            Shape = ShapeRules.Elementwise,
            Broadcast = GradientBroadcast.Elementwise,
            Elementwise = true,
        },
        // Y = -X
        Unary("Neg", static g => [g.Neg(g.GY)]),
        // Y = sqrt(X);  dX = GY * 0.5 / Y
        Unary("Sqrt", static g => [g.Div(g.Mul(g.GY, g.Scalar(0.5f)), g.O(0))]),
        // Y = 1 / X;  dX = -GY * Y²
        Unary("Reciprocal", static g => [g.Neg(g.Mul(g.GY, g.Mul(g.O(0), g.O(0))))]),
        // Y = exp(X)
        Unary("Exp", static g => [g.Mul(g.GY, g.O(0))]),
        // Y = ln(X)
        Unary("Log", static g => [g.Div(g.GY, g.I(0))]),
        // Y = σ(X);  dX = GY * Y * (1 - Y)
        Unary("Sigmoid", static g => [g.Mul(g.GY, g.Mul(g.O(0), g.Sub(g.One, g.O(0))))]),
        // Y = tanh(X);  dX = GY * (1 - Y²)
        Unary("Tanh", static g => [g.Mul(g.GY, g.Sub(g.One, g.Mul(g.O(0), g.O(0))))]),
        // Y = erf(X);  dX = GY * 2/√π * exp(-X²)
        Unary("Erf", static g => [g.Mul(g.GY, g.Mul(g.Scalar(1.1283791671f), g.B.Exp(g.Neg(g.Mul(g.I(0), g.I(0))))))]),
        // Y = max(X, 0): shapes and types only, no gradient rule yet
        Unary("Relu", null),
        // Y = Cast(X, to);  dX = Cast(GY, type of X)  (CastLike only when X's type is not known here: it keeps X alive)
        new("Cast")
        {
            Gradient = static g => [g.Shapes.TypeOf(g.Node.Input(0)) is { } t ? g.B.Cast(g.GY, t) : g.B.Op("CastLike", g.GY, g.I(0))],
            StopsGradient = static n => !((ElementType)n.GetInt("to", 0)).IsFloating(),
            Shape = ShapeRules.SameAsInput0,
            Type = static (n, _, _) => (ElementType)n.GetInt("to", 0),
            Elementwise = true,
        },
        // Y = CastLike(X, like): typed like input 1; no gradient rule
        new("CastLike")
        {
            Shape = ShapeRules.SameAsInput0,
            Type = static (n, _, typeOf) => typeOf(n.Input(1)),
            Elementwise = true,
        },
        // Y, mask = Dropout(X, ratio, training);  dX = GY * mask / (1 - ratio)  (mask: bool)
        new("Dropout")
        {
            Gradient = static g => [DropoutGradient.OfData(g), null, null],
            Shape = ShapeRules.SameAsInput0,
            Type = static (n, output, typeOf) => output == 0 ? typeOf(n.Input(0)) : ElementType.Bool,
            Elementwise = true,
        },
        // Y = Trilu(X, k);  dX = Trilu(GY, k)  (the same mask; which elements are kept depends on their position)
        new("Trilu")
        {
            Gradient = static g => [g.B.Op("Trilu", g.I(1).Length > 0 ? new[] { g.GY, g.I(1) } : new[] { g.GY }, ("upper", g.Int("upper", 1))), null],
            Shape = ShapeRules.SameAsInput0,
            Type = TypeRules.FromInput0,
        },
    ];

    /// <summary>A broadcasting elementwise op typed like input 0.</summary>
    private static OpRecord Binary(string opType, GradientRule gradient) => new(opType)
    {
        Gradient = gradient,
        Shape = ShapeRules.Elementwise,
        Type = TypeRules.FromInput0,
        Broadcast = GradientBroadcast.Elementwise,
        Elementwise = true,
    };

    /// <summary>A one-input elementwise op typed like its input.</summary>
    private static OpRecord Unary(string opType, GradientRule? gradient) => new(opType)
    {
        Gradient = gradient,
        Shape = ShapeRules.SameAsInput0,
        Type = TypeRules.FromInput0,
        Elementwise = true,
    };

    // d(A^E)/dA = E * A^(E-1), with E-1 folded when E is a scalar constant
    private static string PowDerivative(GradientContext g)
    {
        var e = g.I(1);
        var init = g.B.Graph.Initializers.GetValueOrDefault(e);
        var eMinusOne = init is { Type: ElementType.Float, ElementCountValue: 1 }
            ? g.Scalar(init.ToFloats()[0] - 1f)
            : g.Sub(g.B.Op("CastLike", e, g.I(0)), g.One);
        var ex = init is { Type: ElementType.Float } ? e : g.B.Op("CastLike", e, g.I(0));
        return g.Mul(ex, g.B.Pow(g.I(0), eMinusOne));
    }

    private static string?[] MinMax(GradientContext g, string chooseA)
    {
        if (g.InputCount != 2)
        {
            throw new BadInputException($"{g.Node}: gradient of {g.Node.OpType} is implemented for two inputs only");
        }
        var pickA = g.B.Op(chooseA, g.I(0), g.I(1));
        return [g.Need(0, () => g.B.Where(pickA, g.GY, g.Zero)), g.Need(1, () => g.B.Where(pickA, g.Zero, g.GY))];
    }
}
