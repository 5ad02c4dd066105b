// What a training graph keeps from its forward pass for its backward pass: every forward value that
// a backward node reads (even only its shape: ORT keeps the tensor until that reader has run), sized
// for a given batch and sequence length. That memory is held at the turn from forward to backward
// whatever the runtime does, so it is a floor under the peak; weights and graph inputs are not
// counted. Views (ops whose record says IsView: Reshape, Squeeze, Unsqueeze, Flatten, Identity) share
// their input's buffer in ORT, so a saved view counts as its source, once. Backward nodes are recognised
// by the gradient builder's scope.
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

public sealed record SavedTensor(string Name, string Producer, long[] Shape, ElementType Type, long Bytes);

public sealed record SavedActivations(IReadOnlyList<SavedTensor> Tensors, IReadOnlyList<string> Unsized)
{
    public long TotalBytes => Tensors.Sum(t => t.Bytes);

    /// <param name="dims">values of the symbolic dims, e.g. batch_size → 8, sequence_length → 1024.</param>
    public static SavedActivations Of(Model model, IReadOnlyDictionary<string, long> dims, string backwardScope = "/grad/")
    {
        var g = model.Graph;
        var shapes = new ShapeInference(g);
        var producers = g.ProducerIndex();
        bool IsBackward(Node n) => n.Name.StartsWith(backwardScope, StringComparison.Ordinal);
        var read = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Nodes.Where(IsBackward))
        {
            foreach (var i in n.Inputs)
            {
                if (producers.TryGetValue(i, out var p) && !IsBackward(p) && p.OpType != "Constant")
                {
                    read.Add(i);
                }
            }
        }
        var tensors = new List<SavedTensor>();
        var unsized = new List<string>();
        var roots = read.Select(v => Root(v, producers)).Where(v => producers.TryGetValue(v, out var p) && !IsBackward(p)).ToHashSet(StringComparer.Ordinal);
        foreach (var v in roots.Order(StringComparer.Ordinal))
        {
            var shape = shapes.Of(v);
            var type = shapes.TypeOf(v);
            long[]? concrete = shape?.Select(d => d.Resolve(dims) ?? -1).ToArray();
            if (concrete is null || concrete.Any(d => d < 0) || type is null)
            {
                unsized.Add(v);
                continue;
            }
            long count = concrete.Aggregate(1L, (a, b) => a * b);
            tensors.Add(new SavedTensor(v, producers[v].Name, concrete, type.Value, count * type.Value.SizeInBytes()));
        }
        return new SavedActivations(tensors, unsized);
    }

    /// <summary>The value whose buffer <paramref name="v"/> shares (itself unless it is a view).</summary>
    private static string Root(string v, Dictionary<string, Node> producers)
    {
        while (producers.TryGetValue(v, out var p) && OpRegistry.Find(p) is { IsView: true })
        {
            v = p.Input(0);
        }
        return v;
    }
}
