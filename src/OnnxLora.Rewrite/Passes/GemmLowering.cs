// Training graphs have no Gemm: Y = alpha·A'·B' + beta·C (A' = Aᵀ if transA, B' = Bᵀ if transB) becomes
// MatMul(A', B') (· alpha) (+ beta·C) in ops the gradient table knows. A Linear exported as Gemm(x, W, b,
// transB=1) (torch.onnx's addmm) thus reads like the unfolded export, MatMul(x, Transpose(W)) + b, and
// LinearDiscovery sees it as W stored [out,in] behind a Transpose. Node names keep the Gemm's scope, so
// the module path stays readable. Inference graphs keep their Gemms; merge folds into them as they are.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class GemmLowering
{
    public static PassResult Run(Model model)
    {
        var g = model.Graph;
        var gemms = g.Nodes.Where(n => n.OpType == "Gemm" && n.Domain.Length == 0).ToList();
        foreach (var n in gemms)
        {
            var scope = n.Name.Contains('/', StringComparison.Ordinal) ? n.Name[..(n.Name.LastIndexOf('/') + 1)] : n.Name + "/";
            var b = new GraphBuilder(g, scope);
            var a = n.GetInt("transA", 0) != 0 ? b.Transpose(n.Input(0), 1, 0) : n.Input(0);
            var w = n.GetInt("transB", 0) != 0 ? b.Transpose(n.Input(1), 1, 0) : n.Input(1);
            float alpha = n.GetFloat("alpha", 1f), beta = n.GetFloat("beta", 1f);
            var y = b.MatMul(a, w); // (M,N)
            if (alpha != 1f)
            {
                y = b.Mul(y, b.Op("CastLike", b.Scalar(alpha), y));
            }
            if (n.Input(2).Length > 0 && beta != 0f)
            {
                var c = beta == 1f ? n.Input(2) : b.Mul(n.Input(2), b.Op("CastLike", b.Scalar(beta), n.Input(2)));
                y = b.Add(y, c);
            }
            b.NodeWithOutputs("Identity", [y], [n.Outputs[0]]);
            g.Nodes.Remove(n);
        }
        if (gemms.Count > 0)
        {
            g.TopologicalSort();
        }
        return new PassResult(model, gemms.Count > 0);
    }
}
