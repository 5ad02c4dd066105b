// Gradients of the data-movement ops that need runtime sizes: Concat (Split by input sizes),
// Split (Concat, zeros for unused outputs), Slice (Pad back, unit steps only), Pad (Slice, constant mode) and Gather
// (scatter-add, axis 0 only). Indices, shapes and starts/ends never receive gradients.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal static class ShapeGradient
{
    // Y = Concat(X0, X1, ..., axis);  dX0, dX1, ... = Split(GY, [size(X0, axis), size(X1, axis), ...], axis)
    public static string?[] OfConcat(GradientContext g)
    {
        long axis = g.Int("axis", 0);
        // static sizes when every input's extent is known: Shape(Xk) would keep each Xk alive until backward
        var known = Enumerable.Range(0, g.InputCount).Select(k => StaticExtent(g, g.Node.Input(k), axis)).ToArray();
        var sizes = known.All(e => e is not null)
            ? g.B.Ints([.. known.Select(e => e!.Value)])
            : g.B.Concat(0, [.. Enumerable.Range(0, g.InputCount).Select(k => SizeAlong(g.B, g.I(k), axis))]);
        var parts = g.B.Node("Split", [g.GY, sizes], g.InputCount, "", ("axis", axis));
        return [.. parts.Select((p, k) => g.Requires(k) ? p : null)];
    }

    // Y0, Y1, ... = Split(X, axis);  dX = Concat(GY0, GY1, ..., axis), zeros (Shape(Yk)) where no gradient arrives
    public static string OfSplit(GradientContext g)
    {
        var parts = Enumerable.Range(0, g.Node.Outputs.Count)
            .Select(k => g.GO(k) ?? g.B.Op("ConstantOfShape", g.B.Shape(g.O(k))))
            .ToArray();
        return g.B.Concat(g.Int("axis", 0), parts);
    }

    // Y = Slice(X, starts, ends, axes, steps=1);  dX = Pad(GY, begin = clamp(starts), end = dim - begin - len(Y)) on axes
    public static string OfSlice(GradientContext g)
    {
        if (g.I(4).Length > 0 && g.ConstantInts(g.I(4))?.All(s => s == 1) != true)
        {
            throw new BadInputException($"{g.Node}: the Slice gradient supports constant unit steps only");
        }
        var b = g.B;
        var starts = b.Cast(g.I(1), ElementType.Int64);
        var axes = g.I(3).Length > 0
            ? b.Cast(g.I(3), ElementType.Int64)
            : b.Op("Range", b.ScalarI64(0), b.Op("Size", starts), b.ScalarI64(1));
        var dim = b.Gather(b.Shape(g.I(0)), axes);
        // begin = clamp(starts < 0 ? starts + dim : starts, 0, dim)
        var wrapped = b.Where(b.Op("Less", starts, b.ScalarI64(0)), b.Add(starts, dim), starts);
        var begin = b.Op("Max", b.Op("Min", wrapped, dim), b.ScalarI64(0));
        var length = b.Gather(b.Shape(g.O(0)), axes);
        var end = b.Sub(b.Sub(dim, begin), length);
        return b.Op("Pad", g.GY, b.Concat(0, begin, end), "", axes);
    }

    // Y = Pad(X, pads = [begin_0.., end_0..], value, axes) in constant mode with pads ≥ 0;
    // dX = Slice(GY, begin, −end) on the padded axes (end 0: to the last element). Reads no forward value but the
    // pads, and no shape at all (ORT's transpose optimizer rewrote a Shape(GY) here into an out-of-range Gather).
    public static string OfPad(GradientContext g)
    {
        if ((g.String("mode") ?? "constant") != "constant")
        {
            throw new BadInputException($"{g.Node}: the Pad gradient supports constant mode only");
        }
        if (g.ConstantInts(g.I(1)) is { } constant && constant.Any(p => p < 0))
        {
            throw new BadInputException($"{g.Node}: the Pad gradient supports non-negative pads only (a negative pad crops)");
        }
        bool hasAxes = g.InputCount > 3 && g.Node.Input(3).Length > 0;
        long? count = hasAxes ? g.ConstantInts(g.I(3))?.Length : g.Rank(g.Node.Input(0));
        if (count is not { } n)
        {
            throw new BadInputException($"{g.Node}: the Pad gradient needs a known input rank or constant axes");
        }
        var b = g.B;
        var pads = b.Cast(g.I(1), ElementType.Int64);
        var begin = b.Op("Slice", pads, b.Ints(0), b.Ints(n), b.Ints(0));
        var end = b.Op("Slice", pads, b.Ints(n), b.Ints(2 * n), b.Ints(0));
        var axes = hasAxes ? b.Cast(g.I(3), ElementType.Int64) : b.Ints([.. Enumerable.Range(0, (int)n).Select(i => (long)i)]);
        var ends = b.Where(b.Op("Greater", end, b.ScalarI64(0)), b.Neg(end), b.ScalarI64(long.MaxValue));
        return b.Op("Slice", g.GY, begin, ends, axes);
    }

    // Y (q...,rest) = Gather(X (V,rest), idx (q...), axis=0);  dX = ScatterND-add(zeros (V,rest), idx[..., None], GY)
    public static string OfGather(GradientContext g)
    {
        if (g.Int("axis", 0) != 0)
        {
            throw new BadInputException($"{g.Node}: the Gather gradient supports axis 0 only");
        }
        var b = g.B;
        var idx = b.Cast(g.I(1), ElementType.Int64);
        idx = b.Where(b.Op("Less", idx, b.ScalarI64(0)), b.Add(idx, b.Shape(g.I(0), 0, 1)), idx);
        var zeros = b.Op("ConstantOfShape", b.Shape(g.I(0)));
        return b.Op("ScatterND", [zeros, b.Unsqueeze(idx, -1), g.GY], ("reduction", "add"));
    }

    private static long? StaticExtent(GradientContext g, string x, long axis) =>
        g.Shapes.Of(x) is { } s && (axis < 0 ? axis + s.Length : axis) is var a && a >= 0 && a < s.Length ? s[(int)a].Value : null;

    private static string SizeAlong(GraphBuilder b, string x, long axis) =>
        axis == -1 ? b.Op("Shape", [x], ("start", -1L)) : b.Shape(x, axis, axis + 1);
}
