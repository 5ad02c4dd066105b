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
        return new PassResult(model, g.Inputs.Count + g.Outputs.Count != before);
    }
}
