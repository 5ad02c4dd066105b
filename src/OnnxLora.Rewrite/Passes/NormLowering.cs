// Lowers SimplifiedLayerNormalization (com.microsoft or default domain) / SkipSimplifiedLayerNormalization to
// RMSNorm in standard ops, as transformers computes it:
//   y = weight · (x · 1/sqrt(mean(x², -1) + eps)),  computed in float32 for 16-bit inputs.
// The skip variant also yields x + skip (output 3). Other outputs (mean, inv_std) are rejected if used.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class NormLowering
{
    public static PassResult Run(Model model, ElementType computeType = ElementType.Float)
    {
        var g = model.Graph;
        bool modified = false;
        var consumers = g.ConsumerIndex();
        for (int k = 0; k < g.Nodes.Count; k++)
        {
            var n = g.Nodes[k];
            bool skip = n.OpType == "SkipSimplifiedLayerNormalization";
            // ORT registers SimplifiedLayerNormalization in the default domain (as the model builder emits it)
            // and SkipSimplifiedLayerNormalization in com.microsoft; accept either spelling of both.
            bool known = n.OpType == "SimplifiedLayerNormalization" || skip;
            if (!known || (n.Domain != Model.MicrosoftDomain && n.Domain.Length != 0))
            {
                continue;
            }
            for (int o = 1; o < Math.Min(n.Outputs.Count, 3); o++)
            {
                if (n.Outputs[o].Length > 0 && consumers.ContainsKey(n.Outputs[o]))
                {
                    throw new RewriteException($"{n}: output {o} (mean / inv_std_var) is used; only the normalized output and the sum can be lowered");
                }
            }
            if (skip && n.Input(3).Length > 0)
            {
                throw new RewriteException($"{n}: bias input is not supported");
            }
            var b = new GraphBuilder(g, n.Name + "/lowered/");
            float eps = n.GetFloat("epsilon", 1e-5f);
            long axis = n.GetInt("axis", -1);
            if (axis != -1)
            {
                throw new RewriteException($"{n}: axis {axis} is not supported (only -1)");
            }
            string x = n.Input(0);
            if (skip)
            {
                x = b.Add(x, n.Input(1)); // (B,T,D) residual sum
                if (n.Outputs.Count > 3 && n.Outputs[3].Length > 0)
                {
                    b.NodeWithOutputs("Identity", [x], [n.Outputs[3]]);
                }
            }
            Rms(b, x, n.Input(skip ? 2 : 1), eps, computeType, n.Outputs[0]);
            g.Nodes.RemoveAt(k);
            modified = true;
            k--;
        }
        if (modified)
        {
            g.TopologicalSort();
        }
        return new PassResult(model, modified);
    }

    /// <summary>Emits y = w · x / sqrt(mean(x², -1) + eps) into <paramref name="output"/>.</summary>
    public static void Rms(GraphBuilder b, string x, string weight, float eps, ElementType computeType, string output)
    {
        bool cast = computeType != ElementType.Float;
        var xf = cast ? b.Cast(x, ElementType.Float) : x;
        var meanSq = b.ReduceMean(b.Mul(xf, xf), [-1], keepDims: true); // (B,T,1)
        var inv = b.Reciprocal(b.Sqrt(b.Add(meanSq, b.Scalar(eps))));
        var normed = b.Mul(xf, inv); // (B,T,D)
        if (cast)
        {
            normed = b.Cast(normed, computeType);
        }
        b.NodeWithOutputs("Mul", [weight, normed], [output]);
    }
}
