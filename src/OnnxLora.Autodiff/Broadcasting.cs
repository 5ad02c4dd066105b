// The one place where broadcasting is undone: a gradient that arrives at a broadcast shape is
// summed back to its input's shape. Static when inferred shapes prove it, otherwise with runtime
// shape ops (batch and sequence dims are dynamic). Which ops need it is each op record's
// GradientBroadcast (OpRegistry); rules never reduce broadcasts themselves.
using Microsoft.Extensions.Logging;
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal static class Broadcasting
{
    /// <summary>True when the gradient of input i provably already has input i's shape.</summary>
    public static bool IsExact(Node node, GradientBroadcast kind, int i, ShapeInference shapes)
    {
        if (kind == GradientBroadcast.None)
        {
            return true;
        }
        if (kind == GradientBroadcast.BatchDims)
        {
            // Y = A @ B with B of rank <= 2: rules return dA at A's shape and dB via the flattened product.
            // Batched A (...,M,K) @ B (...,K,N) with provably equal batch dims: dA and dB have their own shapes.
            return shapes.Rank(node.Input(1)) is 1 or 2 || SameBatch(shapes.Of(node.Input(0)), shapes.Of(node.Input(1)));
        }
        var x = node.Input(i);
        if (shapes.Of(x) is not { } xs)
        {
            return node.Inputs.All(v => v.Length == 0 || v == x);
        }
        foreach (var other in node.Inputs)
        {
            if (other.Length == 0 || other == x)
            {
                continue;
            }
            if (shapes.Of(other) is not { } os || os.Length > xs.Length)
            {
                return false;
            }
            for (int k = 1; k <= os.Length; k++)
            {
                if (os[^k].Value != 1 && !SymbolicDim.ProvablyEqual(os[^k], xs[^k]))
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool SameBatch(SymbolicDim[]? a, SymbolicDim[]? b) =>
        a is not null && b is not null && a.Length == b.Length && a.Length > 2
        && a[..^2].Zip(b[..^2]).All(p => SymbolicDim.ProvablyEqual(p.First, p.Second));

    /// <summary>The rank of the gradient a broadcasting rule returns, when every operand rank is known.</summary>
    public static int? GradientRank(Node node, GradientBroadcast kind, ShapeInference shapes)
    {
        var ranks = node.Inputs.Where(v => v.Length > 0).Select(shapes.Rank).ToList();
        if (ranks.Any(r => r is null))
        {
            return null;
        }
        return kind == GradientBroadcast.BatchDims ? Math.Max(Math.Max(ranks[0]!.Value, 2), ranks[1]!.Value) : ranks.Max();
    }

    /// <summary>
    /// The static shape of the gradient a broadcasting rule returns: the output's for elementwise ops; none
    /// for batch-dim broadcasting (the gradient's last two dims are the operand's, not the output's).
    /// </summary>
    public static SymbolicDim[]? GradientShape(Node node, GradientBroadcast kind, ShapeInference shapes) =>
        kind == GradientBroadcast.Elementwise ? shapes.Of(node.Outputs[0]) : null;

    /// <summary>
    /// Sums grad (broadcast shape, rank gradRank if known) down to the shape of x:
    /// first over the leading axes x lacks, then (keepdims) over the axes where x has size 1.
    /// </summary>
    public static string ReduceTo(GraphBuilder b, string grad, string x, ShapeInference shapes, int? gradRank, SymbolicDim[]? gradShape = null)
    {
        var xs = shapes.Of(x);
        if (xs is not null && gradShape is not null && StaticAxes(xs, gradShape) is { } broadcastAxes)
        {
            // every aligned dim pair is known: one static ReduceSum per kind of axis, none if nothing broadcasts
            if (gradShape.Length > xs.Length)
            {
                grad = b.ReduceSum(grad, Enumerable.Range(0, gradShape.Length - xs.Length).Select(a => (long)a).ToArray(), keepDims: false);
            }
            return broadcastAxes.Length == 0 ? grad : b.ReduceSum(grad, broadcastAxes, keepDims: true);
        }
        bool runtime = xs is null || gradRank is null || xs.Any(d => d.Value is null);
        if (runtime && shapes.Logger.IsEnabled(LogLevel.Debug))
        {
            AutodiffLog.RuntimeReduce(shapes.Logger, grad, ShapeInference.Format(gradShape), x, ShapeInference.Format(xs));
        }
        if (xs is not null && gradRank is { } gr)
        {
            if (gr > xs.Length)
            {
                grad = b.ReduceSum(grad, Enumerable.Range(0, gr - xs.Length).Select(a => (long)a).ToArray(), keepDims: false);
            }
        }
        else
        {
            // leading = Range(0, rank(grad) - rank(x))
            var diff = b.Sub(b.Op("Size", b.Shape(grad)), b.Op("Size", b.Shape(x)));
            var leading = b.Op("Range", b.ScalarI64(0), diff, b.ScalarI64(1));
            grad = ReduceSumKeep(b, grad, leading, keepDims: false);
        }
        if (xs is not null && xs.All(d => d.Value is not null))
        {
            var ones = Enumerable.Range(0, xs.Length).Where(a => xs[a].Value == 1).Select(a => (long)a).ToArray();
            return ones.Length == 0 ? grad : b.ReduceSum(grad, ones, keepDims: true);
        }
        // axes where Shape(x) == 1 and Shape(grad) != 1, found at run time
        var sx = b.Shape(x);
        var one = b.ScalarI64(1);
        var mask = b.Op("And", b.Equal(sx, one), b.Not(b.Equal(b.Shape(grad), one)));
        var axes = b.Reshape(b.Op("NonZero", mask), -1);
        return ReduceSumKeep(b, grad, axes, keepDims: true);
    }

    /// <summary>
    /// The axes of x (keepdims) that a gradient of shape gs broadcast: x's dim is 1 and gs's is not known to be 1.
    /// Null when some other aligned pair is not provably equal (then only run time can tell).
    /// </summary>
    private static long[]? StaticAxes(SymbolicDim[] xs, SymbolicDim[] gs)
    {
        if (gs.Length < xs.Length)
        {
            return null;
        }
        var axes = new List<long>();
        int lead = gs.Length - xs.Length;
        for (int a = 0; a < xs.Length; a++)
        {
            var g = gs[lead + a];
            if (xs[a].Value == 1)
            {
                if (g.Value != 1)
                {
                    axes.Add(a);
                }
            }
            else if (!SymbolicDim.ProvablyEqual(xs[a], g))
            {
                return null;
            }
        }
        return [.. axes];
    }

    private static string ReduceSumKeep(GraphBuilder b, string x, string axes, bool keepDims) =>
        b.Op("ReduceSum", [x, axes], ("keepdims", keepDims ? 1L : 0L), ("noop_with_empty_axes", 1L));
}
