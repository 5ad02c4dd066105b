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

    private readonly Dictionary<string, Dim[]> _shapes = new(StringComparer.Ordinal);

    public StaticShapes(Graph graph)
    {
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
        foreach (var node in graph.Nodes)
        {
            Propagate(node);
        }
    }

    public Dim[]? Of(string value) => _shapes.GetValueOrDefault(value);

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
        else if (node.OpType is "Add" or "Sub" or "Mul" or "Div" && Of(node.Input(0)) is { } a && Of(node.Input(1)) is { } b
            && a.Length == b.Length && a.Zip(b).All(p => SameDim(p.First, p.Second)))
        {
            _shapes[node.Outputs[0]] = a;
        }
    }
}
