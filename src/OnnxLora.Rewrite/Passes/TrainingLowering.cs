// Turns an inference graph into a training forward graph: standard ops at the opset our nodes need (Gemm as
// MatMul + Add), no KV cache, positions 0..T-1 computed in the graph, attention and norms in standard ops, and attention rows
// that see no key giving zeros (SDPA semantics) whether the attention was a contrib op (AttentionLowering)
// or already standard ops (torch.onnx/optimum exports: MaskedRowZeroing). Int4 linears stay MatMulNBits at
// full precision (Int4Precision). Any other contrib op left afterwards fails here, naming the node. It does not inject LoRA or add the loss.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class TrainingLowering
{
    /// <summary>Ops ORT accepts in the default domain although ONNX does not define them.</summary>
    private static readonly HashSet<string> OrtOnlyDefaultDomainOps = ["SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization"];

    /// <param name="attentionBlocks">Query blocks of the lowered attention: 1 full, N ≥ 2 blocked (see AttentionLowering).</param>
    public static PassResult Run(Model model, int attentionBlocks = 1)
    {
        if (model.Graph.Nodes.FirstOrDefault(n => n.OpType is "If" or "Loop" or "Scan") is { } control)
        {
            throw new RewriteException(
                $"{control}: control flow cannot be trained through (optimum's decoder_model_merged.onnx switches cache branches with If); give the decoder without it (decoder_model.onnx or decoder_with_past_model.onnx)");
        }
        var computeType = ComputeType(model);
        bool modified = OpsetUpgrade.Run(model).Modified;
        modified |= GemmLowering.Run(model).Modified;
        modified |= KvCacheRemoval.Run(model).Modified;
        modified |= PositionIdsRange.Run(model).Modified;
        bool lowered = AttentionLowering.Run(model, computeType: computeType, queryBlocks: attentionBlocks).Modified;
        modified |= lowered || MaskedRowZeroing.Run(model, computeType).Modified;
        modified |= NormLowering.Run(model, computeType).Modified;
        modified |= RecomputeMarking.Run(model).Modified;
        modified |= Int4Precision.Run(model).Modified;
        var left = model.Graph.Nodes.FirstOrDefault(n => (n.Domain.Length > 0 && n.Domain != "ai.onnx"
            && !(n.Domain == Model.MicrosoftDomain && Int4Precision.KeptContribOps.Contains(n.OpType))) || OrtOnlyDefaultDomainOps.Contains(n.OpType));
        if (left is not null)
        {
            throw new RewriteException($"cannot lower {left} (domain '{left.Domain}') to standard ONNX ops for training");
        }
        model.Graph.RemoveDeadNodes();
        return new PassResult(model, modified);
    }

    /// <summary>
    /// The model's activation dtype: that of the embedding table the token ids index (through a Transpose for tied
    /// embeddings), else of the declared logits. Not the logits': the builder's bf16 graphs cast only the logits to fp32.
    /// </summary>
    public static ElementType ComputeType(Model model)
    {
        var g = model.Graph;
        var producers = g.ProducerIndex();
        foreach (var n in g.Nodes.Where(n => n.OpType == "Gather" && n.Domain.Length == 0 && n.Input(1) == GenAiNames.InputIds))
        {
            var table = n.Input(0);
            while (!g.Initializers.ContainsKey(table) && producers.TryGetValue(table, out var p) && p.OpType is "Transpose" or "Reshape" or "Identity")
            {
                table = p.Input(0);
            }
            if (g.Initializers.TryGetValue(table, out var init) && init.Type.IsFloating())
            {
                return init.Type;
            }
        }
        return LogitsType(model);
    }

    /// <summary>The declared type of the logits output (float32 if absent).</summary>
    public static ElementType LogitsType(Model model)
    {
        var logits = model.Graph.Outputs.FirstOrDefault(o => o.Name == LogitsOutput(model.Graph));
        return logits is null ? ElementType.Float : Graph.TypeOf(logits).Element;
    }

    /// <summary>
    /// The output holding the logits: "logits" (the builder, transformers/optimum), else the only output that is not a KV-cache
    /// "present.*" one; anything else fails naming the outputs found.
    /// </summary>
    public static string LogitsOutput(Graph g)
    {
        if (g.Outputs.Any(o => o.Name == GenAiNames.Logits))
        {
            return GenAiNames.Logits;
        }
        var candidates = g.Outputs.Where(o => !o.Name.StartsWith(KvCacheRemoval.PresentPrefix, StringComparison.Ordinal)).ToList();
        return candidates.Count == 1 ? candidates[0].Name
            : throw new RewriteException(
                $"no graph output named '{GenAiNames.Logits}' and {candidates.Count} other outputs ({string.Join(", ", candidates.Select(o => o.Name))}); cannot tell which one holds the logits");
    }
}
