// Reverse-mode autodiff over the IR: from a scalar loss back to the wrt values, with standard
// ONNX ops only, appended to the same graph. It visits only nodes between a wrt value and the
// loss, emits only required gradients, and sums multiple contributions. It adds no outputs
// unless asked (GradientOptions.AddOutputs) and never optimises the forward graph.
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Autodiff;

public static class GradientBuilder
{
    public const string GradientSuffix = "_grad";

    /// <summary>Appends d(loss)/d(w) for each w in wrt; returns w → "&lt;w&gt;_grad".</summary>
    public static IReadOnlyDictionary<string, string> AddGradients(Model model, string loss, IReadOnlyList<string> wrt, GradientOptions? options = null)
    {
        options ??= new GradientOptions();
        var graph = model.Graph;
        var producers = graph.ProducerIndex();
        var active = ActiveValues(graph, producers, loss, wrt);
        foreach (var w in wrt.Where(w => !active.Contains(w)))
        {
            throw new InvalidOperationException($"loss '{loss}' does not depend on '{w}' through differentiable ops");
        }
        var shapes = new ShapeInference(graph, options.Logger);
        var b = new GraphBuilder(graph, options.Scope);
        var grads = new Accumulator(b);
        var memo = new Dictionary<string, string>(StringComparer.Ordinal);
        var remat = options.Recompute is { } recompute ? new Rematerializer(graph, producers, recompute, shapes, b) : null;
        // d(loss)/d(loss) = 1 (or the loss scale), of loss's shape []
        string seed = b.Scalar(1f);
        if (options.LossScaleInput is { } scaleInput)
        {
            if (!graph.IsGraphInput(scaleInput))
            {
                graph.Inputs.Add(Graph.MakeValueInfo(scaleInput, ElementType.Float));
            }
            seed = scaleInput;
        }
        grads.Add(loss, !options.LowPrecision ? seed : shapes.TypeOf(loss) switch
        {
            ElementType.Float => seed,
            { } t => b.Cast(seed, t),
            null => b.Op("CastLike", seed, loss),
        });

        foreach (var node in ReverseTopologicalOrder(producers, loss, active))
        {
            Backward(node, b, grads, active, shapes, options, remat, memo);
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var w in wrt.Distinct())
        {
            result[w] = grads.Finish(w, w + GradientSuffix);
            if (options.AddOutputs)
            {
                graph.Outputs.Add(OutputInfo(graph, w, result[w]));
            }
        }
        return result;
    }

    private static void Backward(Node node, GraphBuilder b, Accumulator grads, HashSet<string> active, ShapeInference shapes, GradientOptions options,
        Rematerializer? remat, Dictionary<string, string> memo)
    {
        var rule = OpRegistry.GradientOf(node);
        var broadcast = OpRegistry.Find(node)!.Broadcast;
        bool Requires(int i) => i < node.Inputs.Count && active.Contains(node.Inputs[i]);
        var outputGrads = new string?[node.Outputs.Count];
        for (int o = 0; o < outputGrads.Length; o++)
        {
            outputGrads[o] = grads.Total(node.Outputs[o]);
        }
        if (outputGrads.All(g => g is null))
        {
            return;
        }
        // a recomputed value is ordered after the first gradient arriving here
        Func<string, string>? forward = remat is null ? null : v => remat.Map(v, () => outputGrads.FirstOrDefault(g => g is not null));
        var context = new GradientContext(node, b, o => o < outputGrads.Length ? outputGrads[o] : null, Requires, shapes, options, forward, memo);
        var inputGrads = rule(context);
        for (int i = 0; i < inputGrads.Length && i < node.Inputs.Count; i++)
        {
            if (inputGrads[i] is not { } gi || !Requires(i))
            {
                continue;
            }
            if (!Broadcasting.IsExact(node, broadcast, i, shapes))
            {
                // the rule returned this gradient at the (broadcast) shape of its output
                gi = Broadcasting.ReduceTo(b, gi, forward?.Invoke(node.Inputs[i]) ?? node.Inputs[i], shapes,
                    Broadcasting.GradientRank(node, broadcast, shapes), Broadcasting.GradientShape(node, broadcast, shapes));
            }
            grads.Add(node.Inputs[i], gi);
        }
    }

    /// <summary>Values forward-reachable from wrt through differentiable ops and backward-reachable from loss.</summary>
    private static HashSet<string> ActiveValues(Graph graph, Dictionary<string, Node> producers, string loss, IReadOnlyList<string> wrt)
    {
        var upstream = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([loss]);
        while (stack.TryPop(out var v))
        {
            if (upstream.Add(v) && producers.TryGetValue(v, out var p))
            {
                foreach (var i in p.Inputs.Where(i => i.Length > 0))
                {
                    stack.Push(i);
                }
            }
        }
        var downstream = new HashSet<string>(wrt, StringComparer.Ordinal);
        var consumers = graph.ConsumerIndex();
        var pending = new Stack<string>(wrt);
        while (pending.TryPop(out var v))
        {
            foreach (var c in consumers.GetValueOrDefault(v) ?? [])
            {
                if (OpRegistry.StopsGradient(c))
                {
                    continue;
                }
                foreach (var o in c.Outputs.Where(o => o.Length > 0 && downstream.Add(o)))
                {
                    pending.Push(o);
                }
            }
        }
        downstream.IntersectWith(upstream);
        return downstream;
    }

    /// <summary>Active nodes, consumers before producers (reverse of a DFS post-order from the loss).</summary>
    private static List<Node> ReverseTopologicalOrder(Dictionary<string, Node> producers, string loss, HashSet<string> active)
    {
        var order = new List<Node>();
        var done = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Node Node, bool Expanded)>();
        if (active.Contains(loss) && producers.TryGetValue(loss, out var root))
        {
            stack.Push((root, false));
        }
        while (stack.TryPop(out var item))
        {
            if (item.Expanded)
            {
                if (done.Add(item.Node))
                {
                    order.Add(item.Node);
                }
                continue;
            }
            if (done.Contains(item.Node))
            {
                continue;
            }
            stack.Push((item.Node, true));
            foreach (var i in item.Node.Inputs)
            {
                if (active.Contains(i) && producers.TryGetValue(i, out var p) && !done.Contains(p))
                {
                    stack.Push((p, false));
                }
            }
        }
        order.Reverse();
        return order;
    }

    private static ValueInfoProto OutputInfo(Graph graph, string wrt, string grad)
    {
        if (graph.FindInput(wrt) is { } input)
        {
            return new ValueInfoProto { Name = grad, Type = input.Type.Clone() };
        }
        if (graph.Initializers.TryGetValue(wrt, out var init))
        {
            return Graph.MakeValueInfo(grad, init.Type, init.Dims.Select(d => (Dim)d).ToArray());
        }
        return new ValueInfoProto
        {
            Name = grad,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)ElementType.Float } },
        };
    }

    /// <summary>Gradient contributions per value; summed (Add for two, Sum for more) on first read.</summary>
    private sealed class Accumulator(GraphBuilder b)
    {
        private readonly Dictionary<string, List<string>> _parts = new(StringComparer.Ordinal);

        public void Add(string value, string grad)
        {
            if (!_parts.TryGetValue(value, out var list))
            {
                _parts[value] = list = [];
            }
            list.Add(grad);
        }

        public string? Total(string value)
        {
            if (!_parts.TryGetValue(value, out var list) || list.Count == 0)
            {
                return null;
            }
            if (list.Count > 1)
            {
                var sum = list.Count == 2 ? b.Add(list[0], list[1]) : b.Op("Sum", [.. list]);
                list.Clear();
                list.Add(sum);
            }
            return list[0];
        }

        /// <summary>Gives the total gradient of value the name <paramref name="name"/>.</summary>
        public string Finish(string value, string name)
        {
            var total = Total(value) ?? throw new InvalidOperationException($"no gradient reached '{value}'");
            if (b.Graph.UniqueName(name) != name)
            {
                throw new InvalidOperationException($"cannot name the gradient of '{value}': '{name}' is already used");
            }
            var producer = b.Graph.Nodes.LastOrDefault(n => n.Outputs.Contains(total));
            bool renamable = producer is not null && producer.Name.StartsWith(b.Scope, StringComparison.Ordinal)
                && !b.Graph.Nodes.Any(n => n.Inputs.Contains(total)) && !b.Graph.Outputs.Any(o => o.Name == total);
            if (!renamable)
            {
                b.NodeWithOutputs("Identity", [total], [name]);
                return name;
            }
            var outputs = producer!.Outputs;
            outputs[outputs.IndexOf(total)] = name;
            _parts[value][0] = name;
            return name;
        }
    }
}
