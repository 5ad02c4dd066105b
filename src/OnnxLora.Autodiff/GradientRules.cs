// The one table of gradient rules: op type → rule. A rule restates its forward line and returns
// one gradient per input (null where not required). Broadcast shapes are reduced centrally
// (Broadcasting), never here. Long rules live in *Gradient helper classes, split by case.
// Constants are float32; graphs in other float types need a cast pass first.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

public static class GradientRules
{
    /// <summary>Ops whose outputs carry no gradient (shape, comparison, index and constant ops).</summary>
    public static readonly IReadOnlySet<string> NonDifferentiable = new HashSet<string>(StringComparer.Ordinal)
    {
        "Shape", "Size", "Range", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor",
        "ConstantOfShape", "NonZero", "ArgMax", "ArgMin", "Constant", "OneHot", "IsNaN", "IsInf", "Sign", "Floor", "Ceil", "Round",
    };

    // GO(i): gradient arriving at output i (GY = GO(0)).  Returned array: gradient for input i.
    public static readonly IReadOnlyDictionary<string, GradientRule> Table = new Dictionary<string, GradientRule>(StringComparer.Ordinal)
    {
        // Y = A + B
        ["Add"] = static g => [g.GY, g.GY],
        // Y = A - B
        ["Sub"] = static g => [g.GY, g.Need(1, () => g.Neg(g.GY))],
        // Y = A * B
        ["Mul"] = static g => [g.Need(0, () => g.Mul(g.GY, g.I(1))), g.Need(1, () => g.Mul(g.GY, g.I(0)))],
        // Y = A / B;  dB = -GY * A / B² = -GY * Y / B
        ["Div"] = static g => [g.Need(0, () => g.Div(g.GY, g.I(1))), g.Need(1, () => g.Neg(g.Div(g.Mul(g.GY, g.O(0)), g.I(1))))],
        // Y = A0 + A1 + ...
        ["Sum"] = static g => [.. Enumerable.Repeat(g.GY, g.InputCount)],
        // Y = -X
        ["Neg"] = static g => [g.Neg(g.GY)],
        // Y = X
        ["Identity"] = static g => [g.GY],
        // Y = A ^ E;  dA = GY * E * A^(E-1),  dE = GY * Y * ln A
        ["Pow"] = static g => [g.Need(0, () => g.Mul(g.GY, PowDerivative(g))), g.Need(1, () => g.Mul(g.GY, g.Mul(g.O(0), g.B.Log(g.I(0)))))],
        // Y = sqrt(X);  dX = GY * 0.5 / Y
        ["Sqrt"] = static g => [g.Div(g.Mul(g.GY, g.Scalar(0.5f)), g.O(0))],
        // Y = 1 / X;  dX = -GY * Y²
        ["Reciprocal"] = static g => [g.Neg(g.Mul(g.GY, g.Mul(g.O(0), g.O(0))))],
        // Y = exp(X)
        ["Exp"] = static g => [g.Mul(g.GY, g.O(0))],
        // Y = ln(X)
        ["Log"] = static g => [g.Div(g.GY, g.I(0))],
        // Y = σ(X);  dX = GY * Y * (1 - Y)
        ["Sigmoid"] = static g => [g.Mul(g.GY, g.Mul(g.O(0), g.Sub(g.One, g.O(0))))],
        // Y = tanh(X);  dX = GY * (1 - Y²)
        ["Tanh"] = static g => [g.Mul(g.GY, g.Sub(g.One, g.Mul(g.O(0), g.O(0))))],
        // Y = erf(X);  dX = GY * 2/√π * exp(-X²)
        ["Erf"] = static g => [g.Mul(g.GY, g.Mul(g.Scalar(1.1283791671f), g.B.Exp(g.Neg(g.Mul(g.I(0), g.I(0))))))],
        // Y = max(A, B) / min(A, B): the gradient goes to the chosen operand (A on ties)
        ["Max"] = static g => MinMax(g, "GreaterOrEqual"),
        ["Min"] = static g => MinMax(g, "LessOrEqual"),
        // Y = softmax(X, axis);  dX = Y * (GY - Σ_axis GY*Y)
        ["Softmax"] = static g => [g.Mul(g.O(0), g.Sub(g.GY, SumOverAxis(g, g.Mul(g.GY, g.O(0)))))],
        // Y = log_softmax(X, axis);  dX = GY - exp(Y) * Σ_axis GY
        ["LogSoftmax"] = static g => [g.Sub(g.GY, g.Mul(g.B.Exp(g.O(0)), SumOverAxis(g, g.GY)))],
        // Y = ReduceSum(X, axes) / ReduceMean(X, axes)
        ["ReduceSum"] = static g => [ReduceGradient.OfSum(g), null],
        ["ReduceMean"] = static g => [ReduceGradient.OfMean(g), null],
        // Y = A @ B
        ["MatMul"] = static g => [g.Need(0, () => MatMulGradient.OfA(g)), g.Need(1, () => MatMulGradient.OfB(g))],
        // Y = Transpose(X, perm);  dX = Transpose(GY, perm⁻¹)  (no perm: reversal, its own inverse)
        ["Transpose"] = static g => [g.Ints("perm") is { } p ? g.B.Transpose(g.GY, Inverse(p)) : g.B.Op("Transpose", g.GY)],
        // Y = Reshape/Squeeze/Unsqueeze/Flatten(X, ...);  dX = Reshape(GY, Shape(X))
        ["Reshape"] = static g => [ReshapeBack(g), null],
        ["Squeeze"] = static g => [ReshapeBack(g), null],
        ["Unsqueeze"] = static g => [ReshapeBack(g), null],
        ["Flatten"] = static g => [ReshapeBack(g), null],
        // Y = Expand(X, shape);  dX = GY summed back to Shape(X) (the central broadcast reduction)
        ["Expand"] = static g => [g.Need(0, () => Broadcasting.ReduceTo(g.B, g.GY, g.I(0), g.Shapes, g.Rank(g.O(0)), g.Shapes.Of(g.O(0)))), null],
        // Y = Concat(X0, X1, ..., axis);  dXk = Split(GY, sizes of Xk along axis)[k]
        ["Concat"] = static g => ShapeGradient.OfConcat(g),
        // Y0, Y1, ... = Split(X, axis);  dX = Concat(GY0, GY1, ...) with zeros for outputs nobody used
        ["Split"] = static g => [ShapeGradient.OfSplit(g), null],
        // Y = X[starts:ends] along axes;  dX = Pad(GY) with zeros back to Shape(X)
        ["Slice"] = static g => [ShapeGradient.OfSlice(g), null, null, null, null],
        // Y = Gather(X, idx, axis=0);  dX = ScatterND-add of GY into zeros of Shape(X)
        ["Gather"] = static g => [g.Need(0, () => ShapeGradient.OfGather(g)), null],
        // Y = Where(C, A, B)
        ["Where"] = static g => [null, g.Need(1, () => g.B.Where(g.I(0), g.GY, g.Zero)), g.Need(2, () => g.B.Where(g.I(0), g.Zero, g.GY))],
        // Y = Cast(X, to);  dX = Cast(GY, type of X)  (CastLike only when X's type is not known here: it keeps X alive)
        ["Cast"] = static g => [g.Shapes.TypeOf(g.Node.Input(0)) is { } t ? g.B.Cast(g.GY, t) : g.B.Op("CastLike", g.GY, g.I(0))],
        // Y = Trilu(X, k);  dX = Trilu(GY, k)  (the same mask)
        ["Trilu"] = static g => [g.B.Op("Trilu", g.I(1).Length > 0 ? new[] { g.GY, g.I(1) } : new[] { g.GY }, ("upper", g.Int("upper", 1))), null],
        // Y, mask = Dropout(X, ratio, training);  dX = GY * mask / (1 - ratio)
        ["Dropout"] = static g => [DropoutGradient.OfData(g), null, null],
        // loss, log_prob = SoftmaxCrossEntropyLoss(scores, labels)
        ["SoftmaxCrossEntropyLoss"] = static g => [SoftmaxCrossEntropyGradient.OfScores(g), null, null],
    };

    /// <summary>True when no output of the node carries a gradient, whatever its inputs.</summary>
    public static bool IsNonDifferentiable(Node node) =>
        NonDifferentiable.Contains(node.OpType)
        || (node.OpType == "Cast" && !((ElementType)node.GetInt("to", 0)).IsFloating());

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
            throw new NotSupportedException($"{g.Node}: gradient of {g.Node.OpType} is implemented for two inputs only");
        }
        var pickA = g.B.Op(chooseA, g.I(0), g.I(1));
        return [g.Need(0, () => g.B.Where(pickA, g.GY, g.Zero)), g.Need(1, () => g.B.Where(pickA, g.Zero, g.GY))];
    }

    private static string SumOverAxis(GradientContext g, string x) => g.B.ReduceSum(x, [g.Int("axis", -1)], keepDims: true);

    // dX = Reshape(GY, Shape(X)). When X's shape is known statically — each dim a value or the same symbol at the
    // same position of Y — the target is a constant with 0 = "copy GY's dim": Shape(X) would keep X alive until
    // the backward pass only for its shape. Otherwise allowzero: X's runtime shape taken literally.
    private static string ReshapeBack(GradientContext g)
    {
        var x = g.Shapes.Of(g.Node.Input(0));
        var y = g.Shapes.Of(g.Node.Outputs[0]);
        if (x is not null && y is not null && x.All(d => d.Value is null or > 0))
        {
            var target = new long[x.Length];
            bool ok = true;
            for (int i = 0; i < x.Length && ok; i++)
            {
                target[i] = x[i].Value ?? (i < y.Length && StaticShapes.SameDim(x[i], y[i]) ? 0 : -2);
                ok = target[i] != -2;
            }
            if (ok)
            {
                return g.B.Reshape(g.GY, target);
            }
        }
        return g.B.Op("Reshape", [g.GY, g.B.Shape(g.I(0))], ("allowzero", 1L));
    }

    private static long[] Inverse(long[] perm)
    {
        var inverse = new long[perm.Length];
        for (int k = 0; k < perm.Length; k++)
        {
            inverse[perm[k]] = k;
        }
        return inverse;
    }
}
