// Recomputation instead of storage: when a gradient rule reads a forward value whose producer is
// marked recomputable, it gets a copy of that value computed again inside the backward pass, so
// the forward value dies right after its forward use. A run of connected recomputable nodes
// (e.g. one layer's scores → softmax → probabilities) is recomputed once and shared by every rule
// that reads it.
//
// Scheduling: ORT runs nodes in a topological order of its own choosing, and a copy whose inputs
// are all forward values could be placed in the forward pass, which would store it all the same.
// Every copy therefore depends on a backward value (the gradient that first asked for it) through
// a free view of each input it takes from outside the run:
//     x' = Reshape(x, Shape(x) + 0·Size(gradient), allowzero=1)
// Reshape aliases its input and the shape arithmetic is a few int64 scalars on the host. The view
// also keeps ORT's common-subexpression elimination from merging a copy back into its original.
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal sealed class Rematerializer(Graph graph, Dictionary<string, Node> producers, Func<Node, bool> recomputable,
    ShapeInference shapes, GraphBuilder b)
{
    public const string Suffix = "/recomputed";

    private readonly Dictionary<string, string> _copies = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Value, string Trigger), string> _views = [];

    /// <summary>
    /// The value a backward rule should read for forward value <paramref name="value"/>: itself, or its
    /// recomputed copy (made on first use, ordered after <paramref name="trigger"/>).
    /// </summary>
    public string Map(string value, Func<string?> trigger)
    {
        if (!IsRecomputed(value, out var producer))
        {
            return value;
        }
        if (_copies.TryGetValue(value, out var copy))
        {
            return copy;
        }
        var t = trigger() ?? throw new InvalidOperationException($"no backward value to order the recomputation of '{value}' after");
        Copy(producer, t);
        return _copies[value];
    }

    private bool IsRecomputed(string value, out Node producer)
    {
        producer = null!;
        if (value.Length == 0 || !producers.TryGetValue(value, out var p) || p.OpType == "Constant" || !recomputable(p))
        {
            return false;
        }
        producer = p;
        // a node over constants only is folded by ORT; recomputing it gains nothing
        return p.Inputs.Any(i => i.Length > 0 && !IsConstant(i));
    }

    private bool IsConstant(string value) =>
        graph.IsInitializer(value) || (producers.TryGetValue(value, out var p) && p.OpType == "Constant");

    private void Copy(Node node, string trigger)
    {
        var inputs = node.Inputs.Select(i => Input(i, trigger)).ToList();
        var outputs = node.Outputs.Select(o => o.Length == 0 ? "" : graph.UniqueName(o + Suffix)).ToList();
        var copy = new Node(node.OpType, graph.UniqueName(b.Scope + "recompute/" + node.Name), inputs, outputs, node.Domain);
        copy.Proto.Attribute.AddRange(node.Proto.Attribute.Select(a => a.Clone()));
        graph.AddNode(copy);
        for (int k = 0; k < outputs.Count; k++)
        {
            if (outputs[k].Length > 0)
            {
                _copies[node.Outputs[k]] = outputs[k];
                shapes.Alias(outputs[k], node.Outputs[k]);
            }
        }
    }

    /// <summary>An input of a copied node: a copy itself, a constant as is, or an ordered view of a forward value.</summary>
    private string Input(string value, string trigger)
    {
        if (value.Length == 0 || IsConstant(value))
        {
            return value;
        }
        if (IsRecomputed(value, out var producer))
        {
            if (!_copies.ContainsKey(value))
            {
                Copy(producer, trigger);
            }
            return _copies[value];
        }
        if (!_views.TryGetValue((value, trigger), out var view))
        {
            view = OrderedView(b, value, trigger);
            shapes.Alias(view, value);
            _views[(value, trigger)] = view;
        }
        return view;
    }

    /// <summary>
    /// <paramref name="value"/> itself (a free Reshape alias) that ORT can neither compute before
    /// <paramref name="trigger"/> exists nor constant-fold: Reshape(x, Shape(x) + 0·Size(trigger)).
    /// </summary>
    public static string OrderedView(GraphBuilder b, string value, string trigger)
    {
        var zero = b.Mul(b.Op("Size", trigger), b.ScalarI64(0));
        return b.Op("Reshape", [value, b.Add(b.Shape(value), zero)], ("allowzero", 1L));
    }
}
