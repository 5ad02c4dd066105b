// The one step that finds every adaptable linear layer of a graph, whoever exported it. A linear is
//   MatMul(x, W)             W a frozen 2-D float initializer stored [in, out]
//   MatMul(x, Transpose(W))  W stored [out, in] (HF layout)
//   Gemm(x, W, C)            transA=0, W [out, in] (transB=1) or [in, out]
//   MatMulNBits(x, W_Q4, …)  W int4 in the builder's blocks (com.microsoft), named by its float name
// Its module path comes from the weight's name, else the node's, else the Transpose's (ModulePaths); a
// weight read by several linears (torch.onnx deduplicates equal initializers) is named by its nodes. A
// packed Q/K/V MatMul (the builder's qkv_proj, read by GroupQueryAttention with empty key/value, or by a
// 3-way Split) yields three layers, one column slice each. Injection, fold, adapter resolution, base
// hashing, export-adapter and the adapter-ready model all start here. It does not change values; it only names
// MatMul/Gemm/MatMulNBits nodes that have no name or a duplicate one (a layer is addressed by its node's name).
// A MatMulNBits the builder would not write (bits ≠ 4, prepacked, g_idx, …) is refused in one line.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Rewrite.Lora;

public static class LinearDiscovery
{
    /// <summary>Every adaptable linear in node order; packed weights give one layer per slice.</summary>
    /// <param name="source">prefixes errors about a MatMulNBits node (usually the model path).</param>
    public static IReadOnlyList<LinearLayer> Find(Graph g, string source = "model")
    {
        var consumers = g.ConsumerIndex();
        var producers = g.ProducerIndex();
        var inputs = g.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        EnsureNodeNames(g);
        var found = new List<(Node Node, LinearLayer Layer)>();
        foreach (var n in g.Nodes)
        {
            if (Read(g, n, producers, inputs, source) is { } layer)
            {
                found.Add((n, layer));
            }
        }
        // A weight several linears read carries no single module name; their node names do.
        var sharedWeights = found.GroupBy(f => f.Layer.Weight).Where(x => x.Count() > 1).Select(x => x.Key).ToHashSet(StringComparer.Ordinal);
        var result = new List<LinearLayer>();
        foreach (var (node, layer) in found)
        {
            var module = (sharedWeights.Contains(layer.Weight) ? null : ModulePaths.FromWeight(layer.Weight))
                ?? ModulePaths.FromNode(node.Name)
                ?? (layer.View is { } view ? ModulePaths.FromNode(view) : null);
            if (module is null)
            {
                continue; // a MatMul with a constant operand that names no module (e.g. a rotary table): not adaptable
            }
            if (PackedSplit(g, node, layer.Columns, consumers) is { } sizes)
            {
                long offset = 0;
                for (int k = 0; k < sizes.Length; k++)
                {
                    result.Add(layer with { Module = ModulePaths.Sibling(module, ModulePaths.QkvParts[k]), Offset = offset, Out = sizes[k] });
                    offset += sizes[k];
                }
                continue;
            }
            if (ModulePaths.Leaf(module) == ModulePaths.PackedQkv)
            {
                throw new RewriteException(
                    $"{node}: packed weight '{layer.Weight}' ({module}) is read neither by a packed GroupQueryAttention nor by a 3-way Split, so its q/k/v column sizes are unknown");
            }
            result.Add(layer with { Module = module });
        }
        var duplicate = result.GroupBy(l => l.Module).FirstOrDefault(x => x.Count() > 1);
        if (duplicate is not null)
        {
            throw new RewriteException(
                $"module '{duplicate.Key}' is computed by more than one node ({string.Join(", ", duplicate.Select(l => "'" + l.Node + "'"))}); cannot tell which one to adapt");
        }
        return result;
    }

    /// <summary>One line per layer for error messages: "model.layers.0.self_attn.q_proj (MatMul '/model/...', weight 'w' [64,64])".</summary>
    public static string Describe(IReadOnlyList<LinearLayer> layers, int max = 12)
    {
        if (layers.Count == 0)
        {
            return "none";
        }
        var shown = layers.Take(max).Select(l => $"{l.Module} (node '{l.Node}', weight '{l.Weight}')");
        return string.Join("; ", shown) + (layers.Count > max ? $"; … {layers.Count - max} more" : "");
    }

    /// <summary>The node a layer names.</summary>
    public static Node NodeOf(Graph g, LinearLayer layer) =>
        g.Nodes.FirstOrDefault(n => n.Name == layer.Node)
        ?? throw new RewriteException($"node '{layer.Node}' of {layer.Module} is not in the graph");

    // The weight operand of a MatMul/Gemm when it is a frozen float matrix; null otherwise.
    private static LinearLayer? Read(Graph g, Node n, Dictionary<string, Node> producers, HashSet<string> inputs, string source)
    {
        if (MatMulNBits.Is(n))
        {
            var q = MatMulNBitsWeight.Read(g, n, source);
            return new LinearLayer("", n.Name, q.WeightName, WeightLayout.Int4, q.Layout.K, q.Layout.N, 0, q.Layout.N, q.ScaleType);
        }
        if (n.Domain.Length != 0 || n.Inputs.Count < 2)
        {
            return null;
        }
        if (n.OpType == "MatMul")
        {
            var w = n.Input(1);
            if (Frozen(g, w, inputs) is { } init)
            {
                return Layer(n, init, WeightLayout.InOut, init.Dims[0], init.Dims[1], null);
            }
            if (producers.TryGetValue(w, out var t) && t.OpType == "Transpose" && t.Domain.Length == 0
                && (t.GetInts("perm") is null || t.GetInts("perm") is [1, 0]) && Frozen(g, t.Input(0), inputs) is { } hf)
            {
                return Layer(n, hf, WeightLayout.OutInTransposed, hf.Dims[1], hf.Dims[0], t.Name);
            }
            return null;
        }
        if (n.OpType == "Gemm" && n.GetInt("transA", 0) == 0 && Frozen(g, n.Input(1), inputs) is { } gw)
        {
            bool transB = n.GetInt("transB", 0) != 0;
            if (n.GetFloat("alpha", 1f) != 1f)
            {
                return null; // not a Linear: PEFT's delta would need alpha folded in
            }
            return transB
                ? Layer(n, gw, WeightLayout.GemmOutIn, gw.Dims[1], gw.Dims[0], null)
                : Layer(n, gw, WeightLayout.GemmInOut, gw.Dims[0], gw.Dims[1], null);
        }
        return null;
    }

    private static LinearLayer Layer(Node n, Initializer w, WeightLayout layout, long inF, long outF, string? view) =>
        new("", n.Name, w.Name, layout, inF, outF, 0, outF, w.Type, view);

    // A 2-D float initializer that is not also a graph input (an overridable initializer is not frozen).
    private static Initializer? Frozen(Graph g, string name, HashSet<string> inputs) =>
        g.Initializers.TryGetValue(name, out var init) && init.Dims.Length == 2 && init.Type.IsFloating() && !inputs.Contains(name)
            ? init : null;

    /// <summary>q/k/v widths when the node's output (after an optional 1-D bias Add) is a packed QKV; else null.</summary>
    private static long[]? PackedSplit(Graph g, Node node, long columns, Dictionary<string, List<Node>> consumers)
    {
        var value = node.Outputs[0];
        var readers = consumers.GetValueOrDefault(value) ?? [];
        if (readers is [{ OpType: "Add" } add] && add.Inputs.Any(i => g.Initializers.TryGetValue(i, out var bias) && bias.Dims.Length == 1))
        {
            value = add.Outputs[0];
            readers = consumers.GetValueOrDefault(value) ?? [];
        }
        foreach (var r in readers)
        {
            if (r.OpType == "GroupQueryAttention" && r.Domain == Model.MicrosoftDomain && r.Input(0) == value
                && r.Input(1).Length == 0 && r.Input(2).Length == 0)
            {
                long h = r.GetInt("num_heads", 0), kv = r.GetInt("kv_num_heads", 0);
                if (h <= 0 || kv <= 0 || columns % (h + 2 * kv) != 0)
                {
                    throw new RewriteException($"{r}: num_heads {h} / kv_num_heads {kv} do not divide the packed width {columns}");
                }
                long d = columns / (h + 2 * kv);
                return [h * d, kv * d, kv * d];
            }
            if (r.OpType == "Split" && r.Domain.Length == 0 && r.Outputs.Count == 3 && r.Input(0) == value
                && r.GetInt("axis", 0) is -1 or 2 && g.Initializers.TryGetValue(r.Input(1), out var split)
                && split.ToInt64s() is { Length: 3 } sizes && sizes.Sum() == columns)
            {
                return sizes;
            }
        }
        return null;
    }

    // Layers are named by their node; give nameless or same-named nodes unique names (names carry no semantics).
    private static void EnsureNodeNames(Graph g)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in g.Nodes.Where(n => n.OpType is "MatMul" or "Gemm" || MatMulNBits.Is(n)))
        {
            if (n.Name.Length == 0 || !seen.Add(n.Name))
            {
                n.Name = g.UniqueName("/" + n.OpType + "_" + n.Outputs[0]);
                seen.Add(n.Name);
            }
        }
    }
}
