// Gradients of ReduceSum and ReduceMean: the arriving gradient is given back the reduced axes
// (Unsqueeze when keepdims=0) and expanded to Shape(X). Axes come from the input (opset 18)
// or, for older models, the attribute; no axes means all axes (or identity with noop_with_empty_axes).
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff;

internal static class ReduceGradient
{
    // Y = ReduceSum(X, axes, keepdims);  dX = Expand(GY with the axes kept, Shape(X))
    public static string OfSum(GradientContext g) => g.B.Expand(WithKeptAxes(g), g.B.Shape(ShapeDonor(g)));

    // Y = ReduceMean(X, axes, keepdims) = ReduceSum(...) * Size(Y) / Size(X)
    public static string OfMean(GradientContext g)
    {
        var sizeX = g.B.Cast(g.B.Op("Size", ShapeDonor(g)), Onnx.Ir.ElementType.Float);
        var sizeY = g.B.Cast(g.B.Op("Size", g.O(0)), Onnx.Ir.ElementType.Float);
        return g.Div(OfSum(g), g.Div(sizeX, sizeY));
    }

    /// <summary>
    /// A value provably of X's shape to read Shape/Size from. Reading X itself keeps X alive until the backward pass;
    /// an input of X's elementwise producer (its op record says Elementwise) with the same static shape is usually
    /// kept anyway (RMSNorm: mean(x·x) reads the shape of x, not of the (B,T,D) square).
    /// </summary>
    private static string ShapeDonor(GradientContext g)
    {
        var x = g.Node.Input(0);
        if (g.Shapes.Of(x) is { } xs && g.Producer(x) is { } p && OpRegistry.Find(p) is { Elementwise: true })
        {
            foreach (var input in p.Inputs)
            {
                if (g.Shapes.Of(input) is { } s && s.Length == xs.Length && s.Zip(xs).All(d => SymbolicDim.ProvablyEqual(d.First, d.Second)))
                {
                    return g.Forward(input);
                }
            }
        }
        return g.I(0);
    }

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
