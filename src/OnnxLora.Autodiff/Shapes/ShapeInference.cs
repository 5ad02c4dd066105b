// Shape inference over the IR, in three parts: the shapes of values (this file), the dims that
// shape tensors hold (ShapeInference.ShapeValues.cs) and element types (ShapeInference.ElementTypes.cs).
// It starts from declared inputs/outputs/value_info and initializer dims and applies each op's shape
// rule (OpRegistry) until nothing changes. It is deliberately conservative: a question it cannot
// answer for sure returns null ("emit the dynamic path"), and an op without a record proves nothing.
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OnnxLora.Autodiff.Ops;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal sealed partial class ShapeInference
{
    private readonly Graph _graph;
    private readonly Dictionary<string, SymbolicDim[]> _shapes = new(StringComparer.Ordinal);
    private Dictionary<string, Node>? _producers;

    public ShapeInference(Graph graph, ILogger? logger = null)
    {
        _graph = graph;
        Logger = logger ?? NullLogger.Instance;
        foreach (var vi in graph.Inputs.Concat(graph.Outputs).Concat(graph.Extra.ValueInfo))
        {
            if (vi.Type?.TensorType?.Shape is not null)
            {
                _shapes[vi.Name] = [.. Graph.TypeOf(vi).Shape.Select(SymbolicDim.From)];
            }
        }
        foreach (var init in graph.Initializers.Values)
        {
            _shapes[init.Name] = [.. init.Dims.Select(d => (SymbolicDim)d)];
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
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            LogFrontier(graph);
        }
    }

    /// <summary>Where shape questions that fall back to runtime shape ops are reported (Debug).</summary>
    public ILogger Logger { get; }

    private int Known => _shapes.Count + ShapeValueCount;

    /// <summary>The shape of a value, or null when nothing proves it.</summary>
    public SymbolicDim[]? Of(string value) => _shapes.GetValueOrDefault(value);

    public int? Rank(string value) => _shapes.TryGetValue(value, out var s) ? s.Length : null;

    /// <summary>The node producing a value, or null (graph input, initializer, unknown).</summary>
    public Node? Producer(string value)
    {
        _producers ??= _graph.ProducerIndex();
        return _producers.GetValueOrDefault(value);
    }

    /// <summary>Records that <paramref name="copy"/> (a recomputed value or a view) is <paramref name="original"/> again.</summary>
    public void Alias(string copy, string original)
    {
        if (_shapes.TryGetValue(original, out var s))
        {
            _shapes[copy] = s;
        }
        AliasShapeValue(copy, original);
    }

    internal void Set(string value, SymbolicDim[] shape) => _shapes[value] = shape;

    private void Propagate(Node node)
    {
        if (node.Outputs.Count == 0 || node.Outputs[0].Length == 0 || _shapes.ContainsKey(node.Outputs[0]))
        {
            return;
        }
        if (OpRegistry.Find(node)?.Shape is { } rule && rule(new ShapeContext(node, this, _graph)) is { } shape)
        {
            _shapes[node.Outputs[0]] = shape;
        }
    }

    /// <summary>Debug: the nodes with a known input whose output stays unknown, where static shapes end.</summary>
    private void LogFrontier(Graph graph)
    {
        foreach (var node in graph.Nodes.Where(n => n.Outputs.Count > 0 && n.Outputs[0].Length > 0 && !_shapes.ContainsKey(n.Outputs[0])
            && n.OpType != "Shape" && n.Inputs.Any(_shapes.ContainsKey)))
        {
            AutodiffLog.ShapeUnknown(Logger, node.ToString(), string.Join(" | ", node.Inputs.Select(v => $"{v}={Format(Of(v))}")));
        }
    }

    public static string Format(SymbolicDim[]? shape) => shape is null ? "?" : string.Join(",", shape);
}
