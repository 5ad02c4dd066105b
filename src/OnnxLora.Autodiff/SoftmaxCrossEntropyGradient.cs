// Gradient of SoftmaxCrossEntropyLoss w.r.t. the scores: (softmax - onehot) masked by the
// non-ignored labels and scaled per reduction (mean divides by the non-ignored count, as HF does).
// Per-class weights are rejected. N=batch, C=classes, d...=extra dims; labels (N,d...) int.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal static class SoftmaxCrossEntropyGradient
{
    // loss, log_prob = SoftmaxCrossEntropyLoss(scores (N,C,d...), labels (N,d...))
    // dScores = (softmax(scores, 1) - onehot(labels)) * valid * up  +  [GO1 - softmax * Σ_C GO1]
    public static string? OfScores(GradientContext g)
    {
        if (!g.Requires(0))
        {
            return null;
        }
        if (g.I(2).Length > 0)
        {
            throw new BadInputException($"{g.Node}: SoftmaxCrossEntropyLoss with class weights has no gradient rule");
        }
        var b = g.B;
        var p = b.Softmax(g.I(0), 1);                                        // (N,C,d...)
        string? grad = g.GO(0) is { } go ? LossPart(g, p, go) : null;
        if (g.GO(1) is { } gl)
        {
            // log_prob = log_softmax(scores, 1)
            var part = g.Sub(gl, g.Mul(p, b.ReduceSum(gl, [1], keepDims: true)));
            grad = grad is null ? part : g.Add(grad, part);
        }
        return grad;
    }

    private static string LossPart(GradientContext g, string p, string go)
    {
        var b = g.B;
        var labels = b.Cast(g.I(1), ElementType.Int64);                     // (N,d...)
        var ignore = g.Node.Attribute("ignore_index") is not null ? b.ScalarI64(g.Int("ignore_index", -100)) : null;
        string? ignored = ignore is null ? null : b.Equal(labels, ignore);
        // ignored labels must not reach the scatter as indices
        var safe = ignored is null ? labels : b.Where(ignored, b.ScalarI64(0), labels);
        var valid = ignored is null ? null : b.Op("CastLike", b.Not(ignored), p);  // (N,d...)
        var up = (g.String("reduction") ?? "mean") switch
        {
            "none" => b.Unsqueeze(go, 1),                                      // (N,1,d...)
            "sum" => go,
            "mean" => g.Div(go, valid is null
                ? b.Cast(b.Op("Size", labels), ElementType.Float)
                : b.Op("ReduceSum", [valid], ("keepdims", 0L))),
            var r => throw new BadInputException($"{g.Node}: unknown reduction '{r}'"),
        };
        var scale = valid is null ? up : g.Mul(up, b.Unsqueeze(valid, 1));   // (N,1,d...) or scalar
        // (p - onehot)·scale without a (N,C) one-hot: scale p, then overwrite the label entries
        // with (p[label] - 1)·scale. Saves two full (N,C) passes over OneHot + Sub.
        var idx = b.Unsqueeze(safe, 1);                                      // (N,1,d...)
        var atLabel = b.Op("GatherElements", [p, idx], ("axis", 1L));       // (N,1,d...)
        var fixedUp = g.Mul(g.Sub(atLabel, b.Scalar(1f)), scale);            // (N,1,d...)
        return b.Op("ScatterElements", [g.Mul(p, scale), idx, fixedUp], ("axis", 1L));
    }
}
