// Drops the KV-cache interface of a GenAI decoder (past_key_values.* inputs, present.* outputs)
// so the graph computes one full sequence. The attention nodes that used them are lowered by
// AttentionLowering; this pass only edits the graph's declared inputs and outputs.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class KvCacheRemoval
{
    public static PassResult Run(Model model)
    {
        var g = model.Graph;
        int before = g.Inputs.Count + g.Outputs.Count;
        g.Inputs.RemoveAll(i => i.Name.StartsWith("past_key_values.", StringComparison.Ordinal));
        g.Outputs.RemoveAll(o => o.Name.StartsWith("present.", StringComparison.Ordinal));
        // Without a cache total_sequence_length is sequence_length; saying so lets the autodiff
        // prove the attention mask and the scores broadcast statically (no runtime reductions).
        int mask = g.Inputs.FindIndex(i => i.Name == "attention_mask");
        if (mask >= 0 && Graph.TypeOf(g.Inputs[mask]) is { Shape.Length: 2 } t && t.Shape[1].Symbol == "total_sequence_length"
            && g.Inputs.FirstOrDefault(i => i.Name == "input_ids") is { } ids && Graph.TypeOf(ids).Shape is { Length: 2 } idShape)
        {
            g.Inputs[mask] = Graph.MakeValueInfo("attention_mask", t.Element, idShape[0], idShape[1]);
        }
        return new PassResult(model, g.Inputs.Count + g.Outputs.Count != before);
    }
}
