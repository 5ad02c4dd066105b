// SDPA semantics for attention written in standard ops (torch.onnx/optimum exports carry transformers'
// eager attention: P = softmax(scores + mask), out = P·v): a query row that sees no key (a left pad) gets
// out = 0, as torch's scaled_dot_product_attention gives and transformers 5 trains with, instead of the
// average of all values that eager attention gives it. Pattern, per attention:
//   Softmax((Cast)(Add(scores, mask))) → (Cast) → MatMul(·, v)      mask: the Add operand no weight feeds
//   (or Where(mask, scores, fill), torch's boolean-mask form)
// becomes  MatMul(·, v) · keep,  keep (…,T,1) = 1 where the row's mask has a visible entry, else 0.
// Forward and backward then equal SDPA's (the zeroed row passes no gradient into its scores). AttentionLowering
// does the same for the attention ops it lowers; this pass is for graphs that had none.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class MaskedRowZeroing
{
    /// <summary>
    /// An additive mask entry counts as masked at or below this: half of float16's lowest value. Every float
    /// type's finfo.min (the value transformers masks with: fp16 -65504, bf16/fp32 ≈ -3.4e38) is below it; a visible entry is 0.
    /// </summary>
    public const float MaskedBelow = -32752f;

    /// <param name="computeType">The activations' dtype, that of P·v.</param>
    public static PassResult Run(Model model, ElementType computeType = ElementType.Float)
    {
        var g = model.Graph;
        var producers = g.ProducerIndex();
        var consumers = g.ConsumerIndex();
        var fromWeights = WeightDependent(g, consumers);
        var keeps = new Dictionary<string, string>(StringComparer.Ordinal);
        var b = new GraphBuilder(g, "/attention_row_mask/");
        bool modified = false;
        foreach (var softmax in g.Nodes.Where(n => n.OpType == "Softmax" && n.Domain.Length == 0).ToList())
        {
            if (ProbsTimesValues(softmax, consumers) is not { } pv)
            {
                continue; // not attention probabilities
            }
            var x = softmax.Input(0);
            while (producers.TryGetValue(x, out var cast) && cast.OpType == "Cast")
            {
                x = cast.Input(0);
            }
            producers.TryGetValue(x, out var masking);
            string keep;
            if (masking is { OpType: "Add" } add && fromWeights.Contains(add.Input(0)) != fromWeights.Contains(add.Input(1)))
            {
                // scores + mask: visible where the additive mask is above MaskedBelow
                var mask = fromWeights.Contains(add.Input(0)) ? add.Input(1) : add.Input(0);
                keep = Keep(b, keeps, mask, computeType, m => b.Op("Greater", b.Cast(m, ElementType.Float), b.Scalar(MaskedBelow)));
            }
            else if (masking is { OpType: "Where" } where && !fromWeights.Contains(where.Input(0))
                && fromWeights.Contains(where.Input(1)) != fromWeights.Contains(where.Input(2)))
            {
                // where(condition, scores, fill) or where(condition, fill, scores) (torch's SDPA with a boolean mask): visible
                // where the scores are taken. A fill of -inf makes a row with no visible key NaN after the softmax, so such rows
                // get finite scores (0) before it; they are zeroed after it like the rest.
                bool scoresWhereTrue = fromWeights.Contains(where.Input(1));
                keep = Keep(b, keeps, where.Input(0), computeType, c => scoresWhereTrue ? b.Cast(c, ElementType.Bool) : b.Not(b.Cast(c, ElementType.Bool)));
                var rowBool = b.Cast(keep, ElementType.Bool); // (…,T,1)
                var finite = g.UniqueName(softmax.Input(0) + "/finite_rows");
                b.NodeWithOutputs("Where", [rowBool, softmax.Input(0), b.Op("CastLike", b.Scalar(0f), softmax.Input(0))], [finite]);
                softmax.Inputs[0] = finite;
            }
            else
            {
                throw new RewriteException(
                    $"{softmax}: attention probabilities are neither softmax(scores + mask) nor softmax(where(mask, scores, fill)) with a mask no "
                    + "weight feeds; rows that see no key (left padding) cannot be given SDPA's zero output");
            }
            var output = pv.Outputs[0];
            var raw = g.UniqueName(output + "/all_rows");
            pv.Outputs[0] = raw;
            b.NodeWithOutputs("Mul", [raw, keep], [output]);
            modified = true;
        }
        if (modified)
        {
            g.TopologicalSort();
        }
        return new PassResult(model, modified);
    }

    // keep (…,T,1) in the compute type: 1 where the query row has a visible key. One per mask value, shared by the layers.
    private static string Keep(GraphBuilder b, Dictionary<string, string> keeps, string mask, ElementType computeType, Func<string, string> visibleOf)
    {
        if (!keeps.TryGetValue(mask, out var keep))
        {
            var visible = b.Cast(visibleOf(mask), ElementType.Float);
            var count = b.ReduceSum(visible, [-1], keepDims: true); // visible keys per query row
            keeps[mask] = keep = b.Cast(b.Op("Greater", count, b.Scalar(0f)), computeType);
        }
        return keep;
    }

    // Softmax → (Cast)* → MatMul reading it as input 0 (P·v); null when the softmax feeds anything else.
    private static Node? ProbsTimesValues(Node softmax, Dictionary<string, List<Node>> consumers)
    {
        var value = softmax.Outputs[0];
        while (true)
        {
            var readers = consumers.GetValueOrDefault(value) ?? [];
            if (readers is [{ OpType: "Cast" } cast])
            {
                value = cast.Outputs[0];
                continue;
            }
            return readers is [{ OpType: "MatMul" } mm] && mm.Domain.Length == 0 && mm.Input(0) == value ? mm : null;
        }
    }

    // Values computed from a frozen weight (a 2-D or larger float initializer); Shape and Size read no values.
    private static HashSet<string> WeightDependent(Graph g, Dictionary<string, List<Node>> consumers)
    {
        var seeds = g.Initializers.Values.Where(i => i.Type.IsFloating() && i.Dims.Length >= 2).Select(i => i.Name);
        var result = new HashSet<string>(seeds, StringComparer.Ordinal);
        var stack = new Stack<string>(result);
        while (stack.TryPop(out var v))
        {
            foreach (var n in consumers.GetValueOrDefault(v) ?? [])
            {
                if (n.OpType is "Shape" or "Size")
                {
                    continue;
                }
                foreach (var o in n.Outputs.Where(o => o.Length > 0 && result.Add(o)))
                {
                    stack.Push(o);
                }
            }
        }
        return result;
    }
}
