// Turns a GenAI-layout inference graph into a training forward graph: no KV cache, attention
// and norms in standard ops. Graphs that already use only standard ops (torch/optimum exports)
// pass through. Any contrib op left afterwards fails here, naming the node.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class TrainingLowering
{
    /// <summary>Ops ORT accepts in the default domain although ONNX does not define them.</summary>
    private static readonly HashSet<string> OrtOnlyDefaultDomainOps = ["SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization"];

    public static PassResult Run(Model model)
    {
        var computeType = ComputeType(model);
        bool modified = KvCacheRemoval.Run(model).Modified;
        modified |= AttentionLowering.Run(model, computeType: computeType).Modified;
        modified |= NormLowering.Run(model, computeType).Modified;
        modified |= RecomputeMarking.Run(model).Modified;
        var left = model.Graph.Nodes.FirstOrDefault(n => (n.Domain.Length > 0 && n.Domain != "ai.onnx") || OrtOnlyDefaultDomainOps.Contains(n.OpType));
        if (left is not null)
        {
            throw new RewriteException($"cannot lower {left} (domain '{left.Domain}') to standard ONNX ops for training");
        }
        model.Graph.RemoveDeadNodes();
        return new PassResult(model, modified);
    }

    /// <summary>The model's activation dtype, read from the declared logits output (float32 if absent).</summary>
    public static ElementType ComputeType(Model model)
    {
        var logits = model.Graph.Outputs.FirstOrDefault(o => o.Name == "logits") ?? model.Graph.Outputs.FirstOrDefault();
        return logits is null ? ElementType.Float : Graph.TypeOf(logits).Element;
    }
}
