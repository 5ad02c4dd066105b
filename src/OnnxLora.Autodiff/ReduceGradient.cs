// Gradients of ReduceSum, ReduceMean and ReduceSumSquare: the arriving gradient is given back the reduced axes
// (Unsqueeze when keepdims=0) and expanded to Shape(X). Axes come from the input (opset 18)
// or, for older models, the attribute; no axes means all axes (or identity with noop_with_empty_axes).
namespace OnnxLora.Autodiff;

internal static class ReduceGradient
{
    // Y = ReduceSum(X, axes, keepdims);  dX = Expand(GY with the axes kept, Shape(X))
    public static string OfSum(GradientContext g) => g.B.Expand(WithKeptAxes(g), g.B.Shape(g.I(0)));

    // Y = ReduceMean(X, axes, keepdims) = ReduceSum(...) * Size(Y) / Size(X)
    public static string OfMean(GradientContext g)
    {
        var sizeX = g.B.Cast(g.B.Op("Size", g.I(0)), Onnx.Ir.ElementType.Float);
        var sizeY = g.B.Cast(g.B.Op("Size", g.O(0)), Onnx.Ir.ElementType.Float);
        return g.Div(OfSum(g), g.Div(sizeX, sizeY));
    }

    // Y = ReduceSumSquare(X, axes, keepdims) = Σ X²;  dX = 2 · X · GY, GY (axes kept) broadcasting over the reduced axes.
    // Reads X, not Y or Shape(X): nothing but X is kept for it.
    public static string OfSumSquare(GradientContext g) => g.Mul(g.Mul(WithKeptAxes(g), g.I(0)), g.Scalar(2f));

    private static string WithKeptAxes(GradientContext g)
    {
        if (g.Int("keepdims", 1) == 1)
        {
            return g.GY;
        }
        string? axes = g.I(1).Length > 0 ? g.I(1) : g.Ints("axes") is { Length: > 0 } a ? g.B.Ints(a) : null;
        if (axes is null || g.ConstantInts(axes) is { Length: 0 })
        {
            // all axes reduced to a scalar (or noop): the scalar broadcasts in Expand
            return g.GY;
        }
        // negative axes count from the back of X, which is also Unsqueeze's output rank
        return g.B.Op("Unsqueeze", g.GY, axes);
    }
}
