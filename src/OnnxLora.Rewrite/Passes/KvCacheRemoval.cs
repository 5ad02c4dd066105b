// Drops the KV-cache interface of a decoder (past_key_values.* inputs, present.* outputs) so the graph
// computes one full sequence. Readers of a past input are handled by kind: contrib attention nodes
// (GroupQueryAttention) are left for AttentionLowering; in standard-op exports (torch.onnx/optimum) a
// Shape of it becomes the shape of an empty cache [B, …, 0, …] and a Concat(past, new) along the
// sequence axis becomes the new states alone. Any other reader fails, naming the node.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class KvCacheRemoval
{
    public const string PastPrefix = "past_key_values.";
    public const string PresentPrefix = "present.";

    public static PassResult Run(Model model)
    {
        var g = model.Graph;
        int before = g.Inputs.Count + g.Outputs.Count;
        var past = g.Inputs.Where(i => i.Name.StartsWith(PastPrefix, StringComparison.Ordinal)).ToList();
        g.Outputs.RemoveAll(o => o.Name.StartsWith(PresentPrefix, StringComparison.Ordinal));
        if (past.Count > 0)
        {
            var consumers = g.ConsumerIndex();
            var b = new GraphBuilder(g, "/kv_cache_removed/");
            foreach (var p in past)
            {
                var dims = Graph.TypeOf(p).Shape;
                int seqAxis = SequenceAxis(dims);
                foreach (var n in consumers.GetValueOrDefault(p.Name) ?? [])
                {
                    if (n.Domain.Length > 0)
                    {
                        continue; // contrib attention: lowered without its cache
                    }
                    if (n.OpType == "Shape")
                    {
                        ReplaceShape(g, b, n, p.Name, dims, seqAxis);
                    }
                    else if (n.OpType == "Concat" && n.Inputs.Count == 2 && n.Input(0) == p.Name
                        && (n.GetInt("axis", 0) == seqAxis || n.GetInt("axis", 0) == seqAxis - dims.Length))
                    {
                        g.Nodes[g.Nodes.IndexOf(n)] = new Node("Identity", n.Name, [n.Input(1)], [n.Outputs[0]]);
                    }
                    else
                    {
                        throw new RewriteException(
                            $"{n} reads KV-cache input '{p.Name}'; only Shape of it and Concat(past, new) along axis {seqAxis} can be pruned for training");
                    }
                }
            }
            g.Inputs.RemoveAll(i => i.Name.StartsWith(PastPrefix, StringComparison.Ordinal));
            g.TopologicalSort();
        }
        // Without a cache the mask covers exactly the new tokens (the builder's total_sequence_length, optimum's
        // "past_sequence_length + sequence_length" = sequence_length); saying so
        // lets the autodiff prove the attention mask and the scores broadcast statically (no runtime reductions).
        int mask = g.Inputs.FindIndex(i => i.Name == GenAiNames.AttentionMask);
        if (mask >= 0 && Graph.TypeOf(g.Inputs[mask]) is { Shape.Length: 2 } t
            && g.Inputs.FirstOrDefault(i => i.Name == GenAiNames.InputIds) is { } ids && Graph.TypeOf(ids).Shape is { Length: 2 } idShape
            && t.Shape[1].Symbol is { } s && (s == "total_sequence_length" || s.Contains("past_sequence_length", StringComparison.Ordinal)))
        {
            g.Inputs[mask] = Graph.MakeValueInfo(GenAiNames.AttentionMask, t.Element, idShape[0], idShape[1]);
        }
        return new PassResult(model, g.Inputs.Count + g.Outputs.Count != before);
    }

    // (B, K, P, d): the axis named for the past length ("past_sequence_length"), else the first symbolic one after the batch.
    private static int SequenceAxis(Dim[] dims)
    {
        for (int i = 1; i < dims.Length; i++)
        {
            if (dims[i].Symbol is { } s && (s.Contains("past", StringComparison.OrdinalIgnoreCase) || s.Contains("seq", StringComparison.OrdinalIgnoreCase)))
            {
                return i;
            }
        }
        for (int i = 1; i < dims.Length; i++)
        {
            if (dims[i].Value is null)
            {
                return i;
            }
        }
        return 2;
    }

    // Shape(past) → [B from input_ids, the declared dims, 0 on the sequence axis], sliced like the Shape node's start/end.
    private static void ReplaceShape(Graph g, GraphBuilder b, Node shape, string past, Dim[] dims, int seqAxis)
    {
        var known = new long[dims.Length - 1];
        for (int i = 1; i < dims.Length; i++)
        {
            known[i - 1] = i == seqAxis ? 0 : dims[i].Value
                ?? throw new RewriteException($"{shape}: KV-cache input '{past}' has no fixed size on axis {i}; cannot build its empty shape");
        }
        if (!g.IsGraphInput(GenAiNames.InputIds))
        {
            throw new RewriteException($"{shape}: reads '{past}' and there is no '{GenAiNames.InputIds}' input to take the batch size from");
        }
        var full = b.Concat(0, b.Shape(GenAiNames.InputIds, 0, 1), b.Ints(known)); // [B, …, 0, …]
        long start = shape.GetInt("start", 0), end = shape.GetInt("end", long.MaxValue);
        var value = start == 0 && end >= dims.Length ? full : b.Slice(full, [start], [end], [0]);
        g.Nodes[g.Nodes.IndexOf(shape)] = new Node("Identity", shape.Name, [value], [shape.Outputs[0]]);
    }
}
