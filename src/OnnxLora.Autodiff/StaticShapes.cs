// What is known about value shapes before running: declared inputs/outputs/value_info and
// initializer dims, carried through a few shape-preserving ops. It is deliberately no shape
// inference; every question it cannot answer for sure returns null ("emit the dynamic path").
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal sealed class StaticShapes
{
    private static readonly HashSet<string> s_sameShapeUnary = new(StringComparer.Ordinal)
    {
        "Identity", "Neg", "Sqrt", "Exp", "Log", "Sigmoid", "Tanh", "Reciprocal", "Relu", "Erf",
        "Softmax", "LogSoftmax", "Cast", "CastLike", "Dropout", "Trilu",
    };

    private static readonly HashSet<string> s_broadcasting = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Where", "Max", "Min", "Sum", "Equal", "And", "Or", "Xor",
        "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
    };

    private readonly Dictionary<string, Dim[]> _shapes = new(StringComparer.Ordinal);
    // Values produced by Shape nodes whose input shape is known (and Gathers/Concats of them): the dims they hold.
    private readonly Dictionary<string, Dim[]> _shapeValues = new(StringComparer.Ordinal);
    // Scalars gathered from a shape value: the one dim each holds (e.g. T, the bound of a Range).
    private readonly Dictionary<string, Dim> _dimValues = new(StringComparer.Ordinal);
    private readonly Graph _graph;
    private readonly Dictionary<string, ElementType?> _types = new(StringComparer.Ordinal);
    private Dictionary<string, Node>? _producers;

    // ops whose output has the element type of input 0
    private static readonly HashSet<string> s_typePreserving = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Sqrt", "Exp", "Log", "Sigmoid", "Tanh", "Reciprocal", "Relu", "Erf",
        "Softmax", "LogSoftmax", "MatMul", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Concat",
        "Split", "Slice", "Gather", "Identity", "Dropout", "Trilu", "ReduceSum", "ReduceMean", "Max", "Min",
        "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss", "Sum",
    };

    public StaticShapes(Graph graph)
    {
        _graph = graph;
        foreach (var vi in graph.Inputs.Concat(graph.Outputs).Concat(graph.Extra.ValueInfo))
        {
            if (vi.Type?.TensorType?.Shape is not null)
            {
                _shapes[vi.Name] = Graph.TypeOf(vi).Shape;
            }
        }
        foreach (var init in graph.Initializers.Values)
        {
            _shapes[init.Name] = init.Dims.Select(d => (Dim)d).ToArray();
        }
        // Until nothing changes: rewrites may leave node lists out of topological order.
        for (int before = -1; before != Known;)
        {
            before = Known;
            foreach (var node in graph.Nodes)
            {
                Propagate(node);
            }
        }
        if (Environment.GetEnvironmentVariable("ONNXLORA_DEBUG_SHAPES") == "1")
        {
            // The frontier: nodes with a known input whose output stays unknown.
            foreach (var node in graph.Nodes.Where(n => n.Outputs.Count > 0 && n.Outputs[0].Length > 0 && !_shapes.ContainsKey(n.Outputs[0])
                && n.OpType != "Shape" && n.Inputs.Any(_shapes.ContainsKey)))
            {
                Console.Error.WriteLine($"shape unknown: {node}: " + string.Join(" | ", node.Inputs.Select(v => $"{v}={(Of(v) is { } d ? string.Join(",", d) : "?")}")));
            }
        }
    }

    private int Known => _shapes.Count + _shapeValues.Count + _dimValues.Count;

    public Dim[]? Of(string value) => _shapes.GetValueOrDefault(value);

    /// <summary>Records that <paramref name="copy"/> (a recomputed value or a view) has <paramref name="original"/>'s shape.</summary>
    public void Alias(string copy, string original)
    {
        if (_shapes.TryGetValue(original, out var s))
        {
            _shapes[copy] = s;
        }
        if (_shapeValues.TryGetValue(original, out var v))
        {
            _shapeValues[copy] = v;
        }
        if (_dimValues.TryGetValue(original, out var d))
        {
            _dimValues[copy] = d;
        }
    }

    /// <summary>
    /// The element type of a forward value: declared (inputs, initializers, value_info) or carried through
    /// Cast/CastLike and type-preserving ops; null when unknown.
    /// </summary>
    public ElementType? TypeOf(string value)
    {
        if (_types.TryGetValue(value, out var known))
        {
            return known;
        }
        _producers ??= _graph.ProducerIndex();
        ElementType? type = null;
        if (_graph.Initializers.TryGetValue(value, out var init))
        {
            type = init.Type;
        }
        else if (_graph.Inputs.Concat(_graph.Extra.ValueInfo).FirstOrDefault(v => v.Name == value) is { Type.TensorType: not null } vi)
        {
            type = (ElementType)vi.Type.TensorType.ElemType;
        }
        else if (_producers.TryGetValue(value, out var p))
        {
            type = p.OpType switch
            {
                "Cast" => (ElementType)p.GetInt("to", 0),
                "CastLike" => TypeOf(p.Input(1)),
                "Shape" or "Size" => ElementType.Int64,
                "Dropout" when value != p.Outputs[0] => ElementType.Bool,
                _ when s_typePreserving.Contains(p.OpType) && p.Domain.Length == 0 => TypeOf(p.Input(0)),
                _ => null,
            };
        }
        _types[value] = type;
        return type;
    }

    /// <summary>The node producing a forward value, or null.</summary>
    public Node? Producer(string value)
    {
        _producers ??= _graph.ProducerIndex();
        return _producers.GetValueOrDefault(value);
    }

    public int? Rank(string value) => _shapes.TryGetValue(value, out var s) ? s.Length : null;

    /// <summary>Same known size, or the same named symbol. Unknown dims are never equal.</summary>
    public static bool SameDim(Dim a, Dim b) =>
        (a.Value is { } x && b.Value is { } y && x == y) || (a.Symbol is { } s && b.Symbol is { } t && s == t);

    private void Propagate(Node node)
    {
        if (node.Outputs.Count == 0 || node.Outputs[0].Length == 0 || _shapes.ContainsKey(node.Outputs[0]))
        {
            return;
        }
        if (s_sameShapeUnary.Contains(node.OpType) && Of(node.Input(0)) is { } s)
        {
            _shapes[node.Outputs[0]] = s;
        }
        else if (node.OpType == "Transpose" && Of(node.Input(0)) is { } t)
        {
            var perm = node.GetInts("perm") ?? Enumerable.Range(0, t.Length).Reverse().Select(i => (long)i).ToArray();
            if (perm.Length == t.Length)
            {
                _shapes[node.Outputs[0]] = perm.Select(p => t[p]).ToArray();
            }
        }
        else if (node.OpType == "Not" && Of(node.Input(0)) is { } n)
        {
            _shapes[node.Outputs[0]] = n;
        }
        else if (node.OpType == "Split")
        {
            SplitShapes(node);
        }
        else if (s_broadcasting.Contains(node.OpType))
        {
            Set(node, Broadcast(node.Inputs.Where(v => v.Length > 0).Select(Of).ToList()));
        }
        else
        {
            Set(node, node.OpType switch
            {
                "MatMul" => MatMulShape(Of(node.Input(0)), Of(node.Input(1))),
                "Gather" => GatherShape(node),
                "Range" => RangeShape(node),
                "Reshape" => ReshapeShape(node),
                "SoftmaxCrossEntropyLoss" or "NegativeLogLikelihoodLoss" when node.GetString("reduction") is not "none" => [],
                "Expand" => Broadcast([Of(node.Input(0)), Ints(node.Input(1))?.Select(v => (Dim)v).ToArray() ?? _shapeValues.GetValueOrDefault(node.Input(1))]),
                "ReduceSum" or "ReduceMean" => ReduceShape(node),
                "Unsqueeze" => UnsqueezeShape(node),
                "Slice" => SliceShape(node),
                "Shape" => RecordShapeValue(node),
                "Concat" => ConcatShape(node),
                _ => null,
            });
        }
    }

    private void SplitShapes(Node node)
    {
        if (Of(node.Input(0)) is not { } x)
        {
            return;
        }
        int axis = (int)node.GetInt("axis", 0);
        axis = axis < 0 ? axis + x.Length : axis;
        if (x[axis].Value is not { } size)
        {
            return;
        }
        int n = node.Outputs.Count;
        var sizes = Ints(node.Input(1)) ?? (size % n == 0 ? Enumerable.Repeat(size / n, n).ToArray() : null);
        if (sizes is null || sizes.Length != n || sizes.Sum() != size)
        {
            return;
        }
        for (int i = 0; i < n; i++)
        {
            var o = (Dim[])x.Clone();
            o[axis] = sizes[i];
            _shapes[node.Outputs[i]] = o;
        }
    }

    private Dim[]? ConcatShape(Node node)
    {
        if (!_shapeValues.ContainsKey(node.Outputs[0]) && ShapeValueOf(node.Inputs) is { } joined)
        {
            _shapeValues[node.Outputs[0]] = joined;
        }
        var parts = node.Inputs.Select(Of).ToList();
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
                if (k != axis && !SameDim(p[k], first[k]))
                {
                    return null;
                }
            }
        }
        var result = (Dim[])first.Clone();
        result[axis] = total;
        return result;
    }

    private void Set(Node node, Dim[]? shape)
    {
        if (shape is not null)
        {
            _shapes[node.Outputs[0]] = shape;
        }
    }

    /// <summary>Numpy broadcasting when every operand shape is known and every aligned dim pair provably agrees.</summary>
    private static Dim[]? Broadcast(IReadOnlyList<Dim[]?> shapes)
    {
        if (shapes.Count == 0 || shapes.Any(x => x is null))
        {
            return null;
        }
        int rank = shapes.Max(x => x!.Length);
        var result = new Dim[rank];
        for (int k = 1; k <= rank; k++)
        {
            Dim? pick = null;
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
                else if (!SameDim(pick.Value, x[^k]))
                {
                    return null;
                }
            }
            result[^k] = pick ?? 1;
        }
        return result;
    }

    private static Dim[]? MatMulShape(Dim[]? a, Dim[]? b)
    {
        if (a is null || b is null || a.Length < 2 || b.Length < 2)
        {
            return null;
        }
        var batch = a.Length == 2 && b.Length == 2 ? [] : Broadcast([a[..^2], b[..^2]]);
        return batch is null ? null : [.. batch, a[^2], b[^1]];
    }

    private Dim[]? GatherShape(Node node)
    {
        if (_shapeValues.TryGetValue(node.Input(0), out var dims) && Ints(node.Input(1)) is { } at
            && at.All(i => i >= -dims.Length && i < dims.Length))
        {
            var picked = at.Select(i => dims[i < 0 ? i + dims.Length : i]).ToArray();
            if (_graph.Initializers[node.Input(1)].Dims.Length == 0)
            {
                _dimValues.TryAdd(node.Outputs[0], picked[0]);
            }
            else
            {
                _shapeValues.TryAdd(node.Outputs[0], picked);
            }
        }
        if (Of(node.Input(0)) is not { } data || Of(node.Input(1)) is not { } idx)
        {
            return null;
        }
        long axis = node.GetInt("axis", 0);
        axis = axis < 0 ? axis + data.Length : axis;
        return [.. data[..(int)axis], .. idx, .. data[((int)axis + 1)..]];
    }

    private long[]? Ints(string value) =>
        value.Length > 0 && _graph.Initializers.TryGetValue(value, out var init) && init.Type == ElementType.Int64 ? init.ToInt64s() : null;

    private Dim[]? ReshapeShape(Node node)
    {
        var target = Ints(node.Input(1))?.Select(v => (Dim)v).ToArray() ?? _shapeValues.GetValueOrDefault(node.Input(1));
        if (target is null || node.GetInt("allowzero", 0) != 0)
        {
            return null;
        }
        var x = Of(node.Input(0));
        var result = new Dim[target.Length];
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
            else if (target[i].Value is null && target[i].Symbol is null)
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
            // -1 = (input dims not copied through) / (explicit target dims)
            if (x is null)
            {
                return null;
            }
            var num = Product(x.Where((_, i) => !copied.Contains(i)));
            var den = Product(result.Where((_, i) => i != inferred && !copied.Contains(i)));
            if (num is null || den is null || Quotient(num.Value, den.Value) is not { } q)
            {
                return null;
            }
            result[inferred] = q;
        }
        return result;
    }

    /// <summary>A product of dims as (number, symbol factors); null when a dim is unknown.</summary>
    private static (long Number, List<string> Symbols)? Product(IEnumerable<Dim> dims)
    {
        long number = 1;
        var symbols = new List<string>();
        foreach (var d in dims)
        {
            if (d.Value is { } v)
            {
                number *= v;
            }
            else if (d.Symbol is { } sym)
            {
                // a derived product symbol "a*b" contributes its factors, so products stay canonical
                foreach (var f in sym.Split('*'))
                {
                    if (long.TryParse(f, out var n))
                    {
                        number *= n;
                    }
                    else
                    {
                        symbols.Add(f);
                    }
                }
            }
            else
            {
                return null;
            }
        }
        return (number, symbols);
    }

    /// <summary>num / den as a dim: a number, a symbol, or the canonical product symbol "6*batch*time"; null if not exact.</summary>
    private static Dim? Quotient((long Number, List<string> Symbols) num, (long Number, List<string> Symbols) den)
    {
        if (den.Number == 0 || num.Number % den.Number != 0)
        {
            return null;
        }
        var left = new List<string>(num.Symbols);
        foreach (var sym in den.Symbols)
        {
            if (!left.Remove(sym))
            {
                return null;
            }
        }
        long n = num.Number / den.Number;
        if (left.Count == 0)
        {
            return n;
        }
        left.Sort(StringComparer.Ordinal);
        return n == 1 && left.Count == 1 ? left[0] : string.Join('*', n == 1 ? left : [n.ToString(System.Globalization.CultureInfo.InvariantCulture), .. left]);
    }

    private Dim[]? ReduceShape(Node node)
    {
        if (Of(node.Input(0)) is not { } x)
        {
            return null;
        }
        var axes = node.GetInts("axes") ?? Ints(node.Input(1));
        if (axes is null || axes.Length == 0)
        {
            return null;
        }
        var norm = axes.Select(a => a < 0 ? a + x.Length : a).ToHashSet();
        bool keep = node.GetInt("keepdims", 1) != 0;
        return keep
            ? x.Select((d, i) => norm.Contains(i) ? (Dim)1 : d).ToArray()
            : x.Where((_, i) => !norm.Contains(i)).ToArray();
    }

    private Dim[]? UnsqueezeShape(Node node)
    {
        if (Of(node.Input(0)) is not { } x || (node.GetInts("axes") ?? Ints(node.Input(1))) is not { } axes)
        {
            return null;
        }
        int rank = x.Length + axes.Length;
        var norm = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
        var result = new Dim[rank];
        int j = 0;
        for (int i = 0; i < rank; i++)
        {
            result[i] = norm.Contains(i) ? 1 : x[j++];
        }
        return result;
    }

    /// <summary>The dims a Concat of shape values and constant 1-D ints holds, when every part is known.</summary>
    private Dim[]? ShapeValueOf(IEnumerable<string> parts)
    {
        var dims = new List<Dim>();
        foreach (var p in parts)
        {
            if (_shapeValues.TryGetValue(p, out var d))
            {
                dims.AddRange(d);
            }
            else if (Ints(p) is { } c && _graph.Initializers[p].Dims.Length == 1)
            {
                dims.AddRange(c.Select(v => (Dim)v));
            }
            else
            {
                return null;
            }
        }
        return [.. dims];
    }

    /// <summary>Range(0, d, 1) with d a dim read from a shape: (d).</summary>
    private Dim[]? RangeShape(Node node)
    {
        if (Ints(node.Input(0)) is [0] && Ints(node.Input(2)) is [1])
        {
            if (_dimValues.TryGetValue(node.Input(1), out var d))
            {
                return [d];
            }
            if (Ints(node.Input(1)) is [var n and >= 0])
            {
                return [n];
            }
        }
        return null;
    }

    private Dim[]? RecordShapeValue(Node node)
    {
        if (Of(node.Input(0)) is { } x && !_shapeValues.ContainsKey(node.Outputs[0]))
        {
            long start = node.GetInt("start", 0), end = node.GetInt("end", x.Length);
            start = Math.Clamp(start < 0 ? start + x.Length : start, 0, x.Length);
            end = Math.Clamp(end < 0 ? end + x.Length : end, 0, x.Length);
            _shapeValues[node.Outputs[0]] = x[(int)start..(int)Math.Max(start, end)];
        }
        return null; // the Shape output's own shape is not needed
    }

    /// <summary>Slices whose starts are 0 and ends are either "to the end" or a dim read by a Shape node.</summary>
    private Dim[]? SliceShape(Node node)
    {
        if (Of(node.Input(0)) is not { } x || Ints(node.Input(1)) is not { } starts)
        {
            return null;
        }
        var axes = node.Input(3).Length == 0 ? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray() : Ints(node.Input(3));
        var steps = node.Input(4).Length == 0 ? null : Ints(node.Input(4));
        var ends = Ints(node.Input(2));
        var endDims = ends is null ? _shapeValues.GetValueOrDefault(node.Input(2)) : null;
        if (axes is null || (ends is null && endDims is null) || (steps is not null && steps.Any(v => v != 1)))
        {
            return null;
        }
        var result = (Dim[])x.Clone();
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
                // ends = a dim of another value (e.g. T of the rotary caches); valid while it is <= size
                result[a] = endDims![i];
            }
        }
        return result;
    }
}
