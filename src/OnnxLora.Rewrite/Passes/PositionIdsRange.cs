// Training feeds positions the way transformers does when no position_ids are passed: 0..T-1 in every
// row, pads included. A graph that takes position_ids as an input (torch.onnx/optimum exports; builder
// graphs with a separate RotaryEmbedding) gets them computed from input_ids' shape instead, under the same
// value name, so the trainer binds only input_ids, attention_mask and labels. B=batch, T=time.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class PositionIdsRange
{
    public const string PositionIds = "position_ids";

    public static PassResult Run(Model model)
    {
        var g = model.Graph;
        if (!g.IsGraphInput(PositionIds))
        {
            return new PassResult(model, false);
        }
        if (!g.IsGraphInput(GenAiNames.InputIds))
        {
            throw new RewriteException($"graph input '{PositionIds}' cannot be derived: there is no '{GenAiNames.InputIds}' input to take the shape from");
        }
        var type = Graph.TypeOf(g.FindInput(PositionIds)!).Element;
        g.Inputs.RemoveAll(i => i.Name == PositionIds);
        var b = new GraphBuilder(g, "/position_ids/");
        var shape = b.Shape(GenAiNames.InputIds); // [B,T]
        var range = b.Op("Range", b.ScalarI64(0), b.Gather(shape, b.ScalarI64(1)), b.ScalarI64(1)); // (T)
        var ids = b.Expand(b.Unsqueeze(range, 0), shape); // (B,T)
        if (type == ElementType.Int64)
        {
            b.NodeWithOutputs("Identity", [ids], [PositionIds]);
        }
        else
        {
            b.NodeWithOutputs("Cast", [ids], [PositionIds], "", ("to", (long)type));
        }
        g.TopologicalSort();
        return new PassResult(model, true);
    }
}
