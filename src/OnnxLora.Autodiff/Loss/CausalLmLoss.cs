// The causal-LM loss with Hugging Face semantics, as a graph block:
//   loss = mean CE(logits[:, :-1] → (N,V), labels[:, 1:] → (N)) over labels ≠ -100, in float32.
// B=batch, T=time, V=vocab, N=B·(T-1). It adds the labels input if missing; it returns the loss name.
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
        var shifted = b.Slice(scores, [0], [-1], [1]); // (B,T-1,V)
        var vocab = b.Shape(scores, 2, 3); // [V]
        var flat = b.Reshape(shifted, b.Concat(0, b.Ints(-1), vocab)); // (N,V)
        var target = b.Reshape(b.Slice(labels, [1], [long.MaxValue], [1]), -1); // (N)
        b.NodeWithOutputs("SoftmaxCrossEntropyLoss", [flat, target], [LossOutput], "",
            ("ignore_index", IgnoreIndex), ("reduction", "mean"));
        return LossOutput;
    }
}
