// Brings a graph exported at an older default-domain opset (torch.onnx writes 14 by default) up to the
// opset our own nodes need (Model.DefaultOpset: Shape start/end, CastLike, Reduce* axes as inputs), so a
// training graph can mix both. Of the ops whose signature changed on the way, it rewrites the Reduce*
// family (axes attribute → input at opset 18). Below opset 13 (Squeeze/Unsqueeze/Split/ReduceSum axes were
// attributes) it refuses and names the export option. Control-flow subgraphs are left untouched.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class OpsetUpgrade
{
    public const long MinimumOpset = 13;

    private static readonly HashSet<string> s_axesInputSince18 =
    [
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
    ];

    /// <summary>The model's default-domain opset (ai.onnx).</summary>
    public static long DefaultDomainOpset(Model model) =>
        model.Header.OpsetImport.FirstOrDefault(o => (o.HasDomain ? o.Domain : "") is "" or "ai.onnx")?.Version ?? Model.DefaultOpset;

    public static PassResult Run(Model model)
    {
        long opset = DefaultDomainOpset(model);
        if (opset >= Model.DefaultOpset)
        {
            return new PassResult(model, false);
        }
        if (opset < MinimumOpset)
        {
            throw new RewriteException(
                $"the model's opset is {opset}; training needs opset {MinimumOpset} or newer: re-export with torch.onnx.export(..., opset_version=14) or newer");
        }
        var g = model.Graph;
        var b = new GraphBuilder(g, "/opset_upgrade/");
        foreach (var n in g.Nodes.Where(n => n.Domain.Length == 0 && opset < 18 && s_axesInputSince18.Contains(n.OpType)))
        {
            if (n.Attribute("axes") is not { } axes)
            {
                continue; // no axes: all axes, the same in both versions
            }
            var values = axes.Ints.ToArray();
            for (int i = n.Proto.Attribute.Count - 1; i >= 0; i--)
            {
                if (n.Proto.Attribute[i].Name == "axes")
                {
                    n.Proto.Attribute.RemoveAt(i);
                }
            }
            n.Inputs.Add(b.Ints(values));
        }
        foreach (var o in model.Header.OpsetImport.Where(o => (o.HasDomain ? o.Domain : "") is "" or "ai.onnx"))
        {
            o.Version = Model.DefaultOpset;
        }
        return new PassResult(model, true);
    }
}
