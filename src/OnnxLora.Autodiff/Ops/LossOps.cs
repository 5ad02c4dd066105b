// Op records of the loss ops. SoftmaxCrossEntropyLoss's rule lives in SoftmaxCrossEntropyGradient;
// NegativeLogLikelihoodLoss appears only after differentiation (CausalLmLoss.LowerForRuntime), so it
// has shape and type rules but no gradient rule.
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff.Ops;

internal static class LossOps
{
    public static readonly OpRecord[] Records =
    [
        // loss, log_prob = SoftmaxCrossEntropyLoss(scores, labels, weights)
        new("SoftmaxCrossEntropyLoss")
        {
            Gradient = static g => [SoftmaxCrossEntropyGradient.OfScores(g), null, null],
            Shape = ReducedToScalar,
            Type = TypeRules.FromInput0,
        },
        // loss = NegativeLogLikelihoodLoss(log_prob, labels, weights)
        new("NegativeLogLikelihoodLoss") { Shape = ReducedToScalar, Type = TypeRules.FromInput0 },
    ];

    /// <summary>The loss is a scalar unless reduction = none.</summary>
    private static SymbolicDim[]? ReducedToScalar(ShapeContext c) => c.Node.GetString("reduction") is not "none" ? [] : null;
}
