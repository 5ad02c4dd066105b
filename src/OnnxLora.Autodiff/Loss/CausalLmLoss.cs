// The causal-LM loss with Hugging Face semantics, as a graph block:
//   loss = mean CE(logits[:, :-1] → (N,V), labels[:, 1:] → (N)) over labels ≠ -100, in float32.
// It is computed without slicing the logits: every position t predicts labels[t+1] and the last
// position gets -100, which the mean ignores — the same loss, with no (B,T-1,V) copy forward and
// no Pad of the gradient backward. B=batch, T=time, V=vocab, N=B·T, D=hidden.
//
// Chunked form (chunks > 1, logits = MatMul(h, W) with W a constant (D,V) weight): h is split into
// chunks along T and each chunk gets its own logits and summed CE, divided by the count of real
// labels at the end. No (N,V) float32 tensor exists at once: each chunk's logits die after its loss,
// and the backward pass works chunk by chunk. With recomputeLogits the chunks' logits are also
// recomputed in the backward pass (marked recomputable) instead of being kept from the forward pass.
// It adds the labels input if missing; it returns the loss name.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Loss;

public static class CausalLmLoss
{
    public const long IgnoreIndex = -100;
    public const string LabelsInput = "labels";
    public const string LossOutput = "loss";

    /// <summary>Vocabularies from this size up get a chunked loss by default on GPUs (see <see cref="DefaultChunks"/>).</summary>
    public const long ChunkedVocabulary = 16384;

    /// <summary>Chunks for the chunked loss when it applies: (N,V)/8 transients instead of (N,V).</summary>
    public const int DefaultChunkCount = 8;

    /// <summary>
    /// 8 chunks for large vocabularies on a GPU; one on CPU, where the smaller LM-head GEMMs measured ~8% slower
    /// (bench-58m 4×256: 780–880 vs 900–920 tokens/s) for 140 MB less peak RSS.
    /// </summary>
    public static int DefaultChunks(long vocab, bool gpu) => gpu && vocab >= ChunkedVocabulary ? DefaultChunkCount : 1;

    public static string Add(Graph g, string logits, string labels = LabelsInput, ElementType logitsType = ElementType.Float,
        int chunks = 1, bool recomputeLogits = false)
    {
        if (chunks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(chunks), chunks, "the loss needs at least one chunk");
        }
        if (!g.IsGraphInput(labels))
        {
            g.Inputs.Add(Graph.MakeValueInfo(labels, ElementType.Int64, "batch_size", "sequence_length"));
        }
        var b = new GraphBuilder(g, "/loss/");
        var next = b.Slice(labels, [1], [long.MaxValue], [1]); // (B,T-1)
        var none = b.Expand(b.ScalarI64(IgnoreIndex), b.Shape(b.Slice(labels, [0], [1], [1]))); // (B,1) of -100
        var target = b.Concat(1, next, none); // (B,T): what position t predicts
        if (chunks > 1 && LinearHead(g, logits) is { } head)
        {
            return AddChunked(b, head.Hidden, head.Head, head.Vocab, target, logitsType, chunks, recomputeLogits);
        }
        var scores = logitsType == ElementType.Float ? logits : b.Cast(logits, ElementType.Float);
        var vocab = b.Shape(scores, 2, 3); // [V]
        var flat = b.Reshape(scores, b.Concat(0, b.Ints(-1), vocab)); // (N,V)
        b.NodeWithOutputs("SoftmaxCrossEntropyLoss", [flat, b.Reshape(target, -1)], [LossOutput], "",
            ("ignore_index", IgnoreIndex), ("reduction", "mean"));
        return LossOutput;
    }

    /// <summary>
    /// Σ_c CE_sum(h_c·W, target_c) / #(target ≠ -100), h and target split into the same T chunks of
    /// ceil(T/chunks) (the last ones shorter or empty when T is small).
    /// </summary>
    private static string AddChunked(GraphBuilder b, string hidden, Node head, long vocab, string target, ElementType logitsType,
        int chunks, bool recomputeLogits)
    {
        var t = b.Shape(hidden, 1, 2); // [T]
        var step = b.Div(b.Add(t, b.Ints(chunks - 1)), b.Ints(chunks)); // [ceil(T/chunks)]
        var sizes = new string[chunks];
        for (int c = 0; c < chunks; c++)
        {
            // min(step, max(0, T - c·step)): sizes that sum to T
            var left = b.Op("Max", b.Sub(t, b.Mul(step, b.Ints(c))), b.Ints(0));
            sizes[c] = b.Op("Min", step, left);
        }
        var split = b.Concat(0, sizes);
        var hs = b.Node("Split", [hidden, split], chunks, "", ("axis", 1L));
        var ts = b.Node("Split", [target, split], chunks, "", ("axis", 1L));
        var logitsBuilder = recomputeLogits ? new GraphBuilder(b.Graph, b.Scope + Recomputation.Scope) : b;
        var losses = new string[chunks];
        for (int c = 0; c < chunks; c++)
        {
            var scores = head.OpType == "MatMul" ? logitsBuilder.MatMul(hs[c], head.Input(1)) : HeadCopy(logitsBuilder, head, hs[c]); // (B,Tc,V)
            if (logitsType != ElementType.Float)
            {
                scores = logitsBuilder.Cast(scores, ElementType.Float);
            }
            var flat = logitsBuilder.Reshape(scores, -1, vocab); // (B·Tc,V)
            losses[c] = b.Op("SoftmaxCrossEntropyLoss", [flat, b.Reshape(ts[c], -1)], ("ignore_index", IgnoreIndex), ("reduction", "sum"));
        }
        var counted = b.Cast(b.Not(b.Equal(target, b.ScalarI64(IgnoreIndex))), ElementType.Float);
        var count = b.Op("ReduceSum", [counted], ("keepdims", 0L));
        // 0/0 = NaN when no label counts, as the unchunked mean (and transformers) give
        b.NodeWithOutputs("Div", [b.Op("Sum", losses), count], [LossOutput]);
        return LossOutput;
    }

    /// <summary>
    /// (h, head node, V) when logits = MatMul(h (B,T,D), W) with W a constant (D,V) initializer, or an int4 head
    /// MatMulNBits(h, W_q4, scales, ...) with constant codes (V = its N).
    /// </summary>
    private static (string Hidden, Node Head, long Vocab)? LinearHead(Graph g, string logits)
    {
        var producer = g.Nodes.LastOrDefault(n => n.Outputs.Contains(logits));
        if (producer is { OpType: "MatMulNBits", Domain: Model.MicrosoftDomain } && g.Initializers.ContainsKey(producer.Input(1))
            && producer.GetInt("N", 0) is > 0 and var n)
        {
            return (producer.Input(0), producer, n);
        }
        if (producer is not { OpType: "MatMul", Domain: "" } || !g.Initializers.TryGetValue(producer.Input(1), out var w) || w.Dims.Length != 2)
        {
            return null;
        }
        return (producer.Input(0), producer, w.Dims[1]);
    }

    /// <summary>The int4 head applied to one chunk: the node again with input 0 replaced, same weights and attributes.</summary>
    private static string HeadCopy(GraphBuilder b, Node head, string chunk)
    {
        var g = b.Graph;
        var output = g.UniqueName(b.Scope + "lm_head_chunk/output_0");
        var copy = new Node(head.OpType, g.UniqueName(b.Scope + "lm_head_chunk"), [chunk, .. head.Inputs.Skip(1)], [output], head.Domain);
        copy.Proto.Attribute.AddRange(head.Proto.Attribute.Select(a => a.Clone()));
        g.AddNode(copy);
        return output;
    }

    /// <summary>
    /// After differentiation: replaces each SoftmaxCrossEntropyLoss node of the loss by LogSoftmax over
    /// the last axis + NegativeLogLikelihoodLoss. Same value; ORT CPU has no SoftmaxCrossEntropyLoss kernel
    /// and its function body runs LogSoftmax on axis 1 of an (N,V,1) view, which measured ~4x slower.
    /// The gradient graph reads only the node's inputs, so it is unaffected.
    /// </summary>
    public static void LowerForRuntime(Graph g)
    {
        for (int at = g.Nodes.FindIndex(IsLossNode); at >= 0; at = g.Nodes.FindIndex(at, IsLossNode))
        {
            var sce = g.Nodes[at];
            g.Nodes.RemoveAt(at);
            int before = g.Nodes.Count;
            var b = new GraphBuilder(g, "/loss/");
            var logp = b.Op("LogSoftmax", [sce.Inputs[0]], ("axis", -1L)); // (N,V)
            b.NodeWithOutputs("NegativeLogLikelihoodLoss", [logp, sce.Inputs[1]], [sce.Outputs[0]], "",
                ("ignore_index", IgnoreIndex), ("reduction", sce.GetString("reduction") ?? "mean"));
            var added = g.Nodes.GetRange(before, g.Nodes.Count - before);
            g.Nodes.RemoveRange(before, added.Count);
            g.Nodes.InsertRange(at, added);
        }
    }

    private static bool IsLossNode(Node n) =>
        n.OpType == "SoftmaxCrossEntropyLoss" && n.Outputs.Count == 1 && n.Name.StartsWith("/loss/", StringComparison.Ordinal);
}
