// The causal-LM loss with Hugging Face semantics, as a graph block:
//   loss = mean CE(logits[:, :-1] → (N,V), labels[:, 1:] → (N)) over labels ≠ -100, in float32.
// It is computed without slicing the logits: every position t predicts labels[t+1] and the last
// position gets -100, which the mean ignores — the same loss, with no (B,T-1,V) copy forward and
// no Pad of the gradient backward. B=batch, T=time, V=vocab, N=B·T.
// It adds the labels input if missing; it returns the loss name.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Loss;

public static class CausalLmLoss
{
    public const long IgnoreIndex = -100;
    public const string LabelsInput = "labels";
    public const string LossOutput = "loss";

    public static string Add(Graph g, string logits, string labels = LabelsInput, ElementType logitsType = ElementType.Float)
    {
        if (!g.IsGraphInput(labels))
        {
            g.Inputs.Add(Graph.MakeValueInfo(labels, ElementType.Int64, "batch_size", "sequence_length"));
        }
        var b = new GraphBuilder(g, "/loss/");
        var scores = logitsType == ElementType.Float ? logits : b.Cast(logits, ElementType.Float);
        var vocab = b.Shape(scores, 2, 3); // [V]
        var flat = b.Reshape(scores, b.Concat(0, b.Ints(-1), vocab)); // (N,V)
        var next = b.Slice(labels, [1], [long.MaxValue], [1]); // (B,T-1)
        var none = b.Expand(b.ScalarI64(IgnoreIndex), b.Shape(b.Slice(labels, [0], [1], [1]))); // (B,1) of -100
        var target = b.Reshape(b.Concat(1, next, none), -1); // (N)
        b.NodeWithOutputs("SoftmaxCrossEntropyLoss", [flat, target], [LossOutput], "",
            ("ignore_index", IgnoreIndex), ("reduction", "mean"));
        return LossOutput;
    }

    /// <summary>
    /// After differentiation: replaces the SoftmaxCrossEntropyLoss node by LogSoftmax over the last
    /// axis + NegativeLogLikelihoodLoss. Same value; ORT CPU has no SoftmaxCrossEntropyLoss kernel and
    /// its function body runs LogSoftmax on axis 1 of an (N,V,1) view, which measured ~4x slower.
    /// The gradient graph reads only the node's inputs, so it is unaffected.
    /// </summary>
    public static void LowerForRuntime(Graph g)
    {
        int at = g.Nodes.FindIndex(n => n.OpType == "SoftmaxCrossEntropyLoss" && n.Outputs.Count == 1 && n.Outputs[0] == LossOutput);
        if (at < 0)
        {
            return;
        }
        var sce = g.Nodes[at];
        g.Nodes.RemoveAt(at);
        int before = g.Nodes.Count;
        var b = new GraphBuilder(g, "/loss/");
        var logp = b.Op("LogSoftmax", [sce.Inputs[0]], ("axis", -1L)); // (N,V)
        b.NodeWithOutputs("NegativeLogLikelihoodLoss", [logp, sce.Inputs[1]], [LossOutput], "",
            ("ignore_index", IgnoreIndex), ("reduction", "mean"));
        var added = g.Nodes.GetRange(before, g.Nodes.Count - before);
        g.Nodes.RemoveRange(before, added.Count);
        g.Nodes.InsertRange(at, added);
    }
}
