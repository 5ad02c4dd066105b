// Op records of data movement: views (Identity, Reshape, Squeeze, Unsqueeze, Flatten), Transpose,
// Expand, Concat, Split, Slice, Pad and Gather. Rules that need runtime sizes live in ShapeGradient; shape
// and starts/ends/indices inputs never receive gradients.
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff.Ops;

internal static class ShapeOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = X
        new("Identity") { Gradient = static g => [g.GY], Shape = ShapeRules.SameAsInput0, Type = TypeRules.FromInput0, Elementwise = true, IsView = true },
        // Y = Reshape/Squeeze/Unsqueeze/Flatten(X, ...);  dX = Reshape(GY, Shape(X))
        new("Reshape") { Gradient = static g => [ReshapeBack(g), null], Shape = ShapeRules.Reshape, Type = TypeRules.FromInput0, IsView = true },
        new("Squeeze") { Gradient = static g => [ReshapeBack(g), null], Type = TypeRules.FromInput0, IsView = true },
        new("Unsqueeze") { Gradient = static g => [ReshapeBack(g), null], Shape = ShapeRules.Unsqueeze, Type = TypeRules.FromInput0, IsView = true },
        new("Flatten") { Gradient = static g => [ReshapeBack(g), null], Type = TypeRules.FromInput0, IsView = true },
        // Y = Transpose(X, perm);  dX = Transpose(GY, perm⁻¹)  (no perm: reversal, its own inverse)
        new("Transpose")
        {
            Gradient = static g => [g.Ints("perm") is { } p ? g.B.Transpose(g.GY, Inverse(p)) : g.B.Op("Transpose", g.GY)],
            Shape = ShapeRules.Transpose,
            Type = TypeRules.FromInput0,
        },
        // Y = Expand(X, shape);  dX = GY summed back to Shape(X) (the central broadcast reduction)
        new("Expand")
        {
            Gradient = static g => [g.Need(0, () => Broadcasting.ReduceTo(g.B, g.GY, g.I(0), g.Shapes, g.Rank(g.O(0)), g.Shapes.Of(g.O(0)))), null],
            Shape = ShapeRules.Expand,
            Type = TypeRules.FromInput0,
        },
        // Y = Concat(X0, X1, ..., axis);  dXk = Split(GY, sizes of Xk along axis)[k]
        new("Concat") { Gradient = static g => ShapeGradient.OfConcat(g), Shape = ShapeRules.Concat, Type = TypeRules.FromInput0 },
        // Y0, Y1, ... = Split(X, axis);  dX = Concat(GY0, GY1, ...) with zeros for outputs nobody used
        new("Split") { Gradient = static g => [ShapeGradient.OfSplit(g), null], Shape = ShapeRules.Split, Type = TypeRules.FromInput0 },
        // Y = X[starts:ends] along axes;  dX = Pad(GY) with zeros back to Shape(X)
        new("Slice") { Gradient = static g => [ShapeGradient.OfSlice(g), null, null, null, null], Shape = ShapeRules.Slice, Type = TypeRules.FromInput0 },
        // Y = Pad(X, pads, 0) (constant mode, pads ≥ 0);  dX = Slice(GY) of the unpadded window (GY's shape only)
        new("Pad") { Gradient = static g => [g.Need(0, () => ShapeGradient.OfPad(g)), null, null, null], Type = TypeRules.FromInput0 },
        // Y = Gather(X, idx, axis=0);  dX = ScatterND-add of GY into zeros of Shape(X)
        new("Gather")
        {
            Gradient = static g => [g.Need(0, () => ShapeGradient.OfGather(g)), null],
            Shape = ShapeRules.Gather,
            Type = TypeRules.FromInput0,
        },
    ];

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
                target[i] = x[i].Value ?? (i < y.Length && SymbolicDim.ProvablyEqual(x[i], y[i]) ? 0 : -2);
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
