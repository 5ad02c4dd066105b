// The shape rules too long to sit inside an op record (OpRegistry families name them from here):
// numpy broadcasting, MatMul, Transpose, Reshape (with -1 over symbols), Reduce*, Unsqueeze, Slice,
// Gather, Concat, Split, Range, Expand and Shape. Each proves a shape only when every dim it needs
// is known; anything else returns null. They read attributes and constant inputs, never data.
namespace OnnxLora.Autodiff.Shapes;

internal static class ShapeRules
{
    /// <summary>Output 0 has input 0's shape (unary elementwise ops, Softmax, Cast, Dropout, Trilu …).</summary>
    public static SymbolicDim[]? SameAsInput0(ShapeContext c) => c.Input(0);

    /// <summary>Numpy broadcasting of every non-empty input.</summary>
    public static SymbolicDim[]? Elementwise(ShapeContext c) =>
        Broadcast([.. c.Node.Inputs.Where(v => v.Length > 0).Select(c.Of)]);

    /// <summary>Numpy broadcasting when every operand shape is known and every aligned dim pair provably agrees.</summary>
    public static SymbolicDim[]? Broadcast(IReadOnlyList<SymbolicDim[]?> shapes)
    {
        if (shapes.Count == 0 || shapes.Any(x => x is null))
        {
            return null;
        }
        int rank = shapes.Max(x => x!.Length);
        var result = new SymbolicDim[rank];
        for (int k = 1; k <= rank; k++)
        {
            SymbolicDim? pick = null;
            foreach (var x in shapes)
            {
                if (x!.Length < k || x[^k].Value == 1)
                {
                    continue;
                }
                if (pick is null)
                {
                    pick = x[^k];
                }
                else if (!SymbolicDim.ProvablyEqual(pick.Value, x[^k]))
                {
                    return null;
                }
            }
            result[^k] = pick ?? 1;
        }
        return result;
    }

    /// <summary>Y = A (...,M,K) @ B (...,K,N): (broadcast batch..., M, N); operands of rank 2 or more only.</summary>
    public static SymbolicDim[]? MatMul(ShapeContext c)
    {
        if (c.Input(0) is not { Length: >= 2 } a || c.Input(1) is not { Length: >= 2 } b)
        {
            return null;
        }
        var batch = a.Length == 2 && b.Length == 2 ? [] : Broadcast([a[..^2], b[..^2]]);
        return batch is null ? null : [.. batch, a[^2], b[^1]];
    }

    /// <summary>Y = Transpose(X, perm); no perm reverses the axes.</summary>
    public static SymbolicDim[]? Transpose(ShapeContext c)
    {
        if (c.Input(0) is not { } t)
        {
            return null;
        }
        var perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, t.Length).Reverse().Select(i => (long)i).ToArray();
        return perm.Length == t.Length ? [.. perm.Select(p => t[p])] : null;
    }

    /// <summary>Y0, Y1, ... = Split(X, split, axis): sizes from the split input or equal parts, along a numeric axis.</summary>
    public static SymbolicDim[]? Split(ShapeContext c)
    {
        var node = c.Node;
        if (c.Input(0) is not { } x)
        {
            return null;
        }
        int axis = (int)node.GetInt("axis", 0);
        axis = axis < 0 ? axis + x.Length : axis;
        if (x[axis].Value is not { } size)
        {
            return null;
        }
        int n = node.Outputs.Count;
        var sizes = c.Ints(node.Input(1)) ?? (size % n == 0 ? Enumerable.Repeat(size / n, n).ToArray() : null);
        if (sizes is null || sizes.Length != n || sizes.Sum() != size)
        {
            return null;
        }
        for (int i = 0; i < n; i++)
        {
            var o = (SymbolicDim[])x.Clone();
            o[axis] = sizes[i];
            c.SetOutput(i, o);
        }
        return null; // every output is recorded above
    }

    /// <summary>Y = Concat(X0, X1, ..., axis): numeric extents along axis, the same dims elsewhere. Also joins shape values.</summary>
    public static SymbolicDim[]? Concat(ShapeContext c)
    {
        var node = c.Node;
        if (c.ShapeValue(node.Outputs[0]) is null && JoinedShapeValue(c) is { } joined)
        {
            c.SetShapeValue(node.Outputs[0], joined);
        }
        var parts = node.Inputs.Select(c.Of).ToList();
        if (parts.Count == 0 || parts.Any(p => p is null || p.Length != parts[0]!.Length))
        {
            return null;
        }
        var first = parts[0]!;
        int axis = (int)node.GetInt("axis", 0);
        axis = axis < 0 ? axis + first.Length : axis;
        long total = 0;
        foreach (var p in parts)
        {
            if (p![axis].Value is not { } v)
            {
                return null;
            }
            total += v;
            for (int k = 0; k < first.Length; k++)
            {
                if (k != axis && !SymbolicDim.ProvablyEqual(p[k], first[k]))
                {
                    return null;
                }
            }
        }
        var result = (SymbolicDim[])first.Clone();
        result[axis] = total;
        return result;
    }

    /// <summary>The dims a Concat of shape values and constant 1-D ints holds, when every part is known.</summary>
    private static SymbolicDim[]? JoinedShapeValue(ShapeContext c)
    {
        var dims = new List<SymbolicDim>();
        foreach (var p in c.Node.Inputs)
        {
            if (c.ShapeValue(p) is { } d)
            {
                dims.AddRange(d);
            }
            else if (c.Ints(p) is { } values && c.ConstantRank(p) == 1)
            {
                dims.AddRange(values.Select(v => (SymbolicDim)v));
            }
            else
            {
                return null;
            }
        }
        return [.. dims];
    }

    /// <summary>Y = Gather(X, idx, axis): X's dims around idx's. Gathering constant indices from a shape value keeps its dims.</summary>
    public static SymbolicDim[]? Gather(ShapeContext c)
    {
        var node = c.Node;
        if (c.ShapeValue(node.Input(0)) is { } dims && c.Ints(node.Input(1)) is { } at
            && at.All(i => i >= -dims.Length && i < dims.Length))
        {
            var picked = at.Select(i => dims[i < 0 ? i + dims.Length : i]).ToArray();
            if (c.ConstantRank(node.Input(1)) == 0)
            {
                c.SetDimValue(node.Outputs[0], picked[0]);
            }
            else
            {
                c.SetShapeValue(node.Outputs[0], picked);
            }
        }
        if (c.Input(0) is not { } data || c.Input(1) is not { } idx)
        {
            return null;
        }
        long axis = node.GetInt("axis", 0);
        axis = axis < 0 ? axis + data.Length : axis;
        return [.. data[..(int)axis], .. idx, .. data[((int)axis + 1)..]];
    }

    /// <summary>
    /// Y = Reshape(X, shape) with a constant target or one whose dims a shape value holds: 0 copies X's dim,
    /// -1 is (X's dims not copied) / (the target's other dims) when that divides exactly. Not with allowzero.
    /// </summary>
    public static SymbolicDim[]? Reshape(ShapeContext c)
    {
        var node = c.Node;
        var target = c.Ints(node.Input(1))?.Select(v => (SymbolicDim)v).ToArray() ?? c.ShapeValue(node.Input(1));
        if (target is null || node.GetInt("allowzero", 0) != 0)
        {
            return null;
        }
        var x = c.Input(0);
        var result = new SymbolicDim[target.Length];
        int inferred = -1;
        var copied = new HashSet<int>();
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i].Value == 0)
            {
                if (x is null || i >= x.Length)
                {
                    return null;
                }
                result[i] = x[i];
                copied.Add(i);
            }
            else if (target[i].Value == -1)
            {
                inferred = i;
            }
            else if (!target[i].IsKnown)
            {
                return null;
            }
            else
            {
                result[i] = target[i];
            }
        }
        if (inferred >= 0)
        {
            if (x is null)
            {
                return null;
            }
            var num = SymbolicDim.Product(x.Where((_, i) => !copied.Contains(i)));
            var den = SymbolicDim.Product(result.Where((_, i) => i != inferred && !copied.Contains(i)));
            if (num.DivideExactly(den) is not { } q)
            {
                return null;
            }
            result[inferred] = q;
        }
        return result;
    }

    /// <summary>Y = ReduceSum/ReduceMean(X, axes, keepdims) with axes from the attribute or a constant input (not empty).</summary>
    public static SymbolicDim[]? Reduce(ShapeContext c)
    {
        if (c.Input(0) is not { } x)
        {
            return null;
        }
        var axes = c.Node.GetInts("axes") ?? c.Ints(c.Node.Input(1));
        if (axes is null || axes.Length == 0)
        {
            return null;
        }
        var norm = axes.Select(a => a < 0 ? a + x.Length : a).ToHashSet();
        bool keep = c.Node.GetInt("keepdims", 1) != 0;
        return keep
            ? [.. x.Select((d, i) => norm.Contains(i) ? 1 : d)]
            : [.. x.Where((_, i) => !norm.Contains(i))];
    }

    /// <summary>Y = Unsqueeze(X, axes): 1 at each axis of the output.</summary>
    public static SymbolicDim[]? Unsqueeze(ShapeContext c)
    {
        if (c.Input(0) is not { } x || (c.Node.GetInts("axes") ?? c.Ints(c.Node.Input(1))) is not { } axes)
        {
            return null;
        }
        int rank = x.Length + axes.Length;
        var norm = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var result = new SymbolicDim[rank];
        int j = 0;
        for (int i = 0; i < rank; i++)
        {
            result[i] = norm.Contains(i) ? 1 : x[j++];
        }
        return result;
    }

    /// <summary>Y = Range(0, d, 1) with d a constant or a dim read from a shape: (d).</summary>
    public static SymbolicDim[]? Range(ShapeContext c)
    {
        var node = c.Node;
        if (c.Ints(node.Input(0)) is [0] && c.Ints(node.Input(2)) is [1])
        {
            if (c.DimValue(node.Input(1)) is { } d)
            {
                return [d];
            }
            if (c.Ints(node.Input(1)) is [var n and >= 0])
            {
                return [n];
            }
        }
        return null;
    }

    /// <summary>Y = Expand(X, shape): X broadcast against a constant shape or the dims a shape value holds.</summary>
    public static SymbolicDim[]? Expand(ShapeContext c) =>
        Broadcast([c.Input(0), c.Ints(c.Node.Input(1))?.Select(v => (SymbolicDim)v).ToArray() ?? c.ShapeValue(c.Node.Input(1))]);

    /// <summary>
    /// Slices whose starts are 0 and ends are either "to the end", a constant within a numeric dim, or a dim
    /// read by a Shape node (valid while it is at most the size, e.g. T of the rotary caches). Unit steps only.
    /// </summary>
    public static SymbolicDim[]? Slice(ShapeContext c)
    {
        var node = c.Node;
        if (c.Input(0) is not { } x || c.Ints(node.Input(1)) is not { } starts)
        {
            return null;
        }
        var axes = node.Input(3).Length == 0 ? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray() : c.Ints(node.Input(3));
        var steps = node.Input(4).Length == 0 ? null : c.Ints(node.Input(4));
        var ends = c.Ints(node.Input(2));
        var endDims = ends is null ? c.ShapeValue(node.Input(2)) : null;
        if (axes is null || (ends is null && endDims is null) || (steps is not null && steps.Any(v => v != 1)))
        {
            return null;
        }
        var result = (SymbolicDim[])x.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int a = (int)(axes[i] < 0 ? axes[i] + x.Length : axes[i]);
            if (starts[i] != 0)
            {
                return null;
            }
            if (ends is not null)
            {
                if (ends[i] >= long.MaxValue / 2)
                {
                    continue; // to the end: unchanged
                }
                if (ends[i] < 0 || x[a].Value is not { } size)
                {
                    return null;
                }
                result[a] = Math.Min(ends[i], size);
            }
            else
            {
                result[a] = endDims![i];
            }
        }
        return result;
    }

    /// <summary>Y = Shape(X, start, end) of a known X: records the dims Y holds. Y's own shape is not needed.</summary>
    public static SymbolicDim[]? Shape(ShapeContext c)
    {
        if (c.Input(0) is { } x && c.ShapeValue(c.Node.Outputs[0]) is null)
        {
            long start = c.Node.GetInt("start", 0), end = c.Node.GetInt("end", x.Length);
            start = Math.Clamp(start < 0 ? start + x.Length : start, 0, x.Length);
            end = Math.Clamp(end < 0 ? end + x.Length : end, 0, x.Length);
            c.SetShapeValue(c.Node.Outputs[0], x[(int)start..(int)Math.Max(start, end)]);
        }
        return null;
    }
}
