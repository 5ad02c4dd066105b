// Hyper-parameters of AdamW as torch.optim.AdamW names them (non-amsgrad), plus the optional
// global-norm clip of torch.nn.utils.clip_grad_norm_. The learning rate is not here: it is a
// graph input, so a schedule changes it per step without rebuilding the graph.
namespace OnnxLora.Autodiff.Optim;

/// <param name="Beta1">Decay of the first moment (torch betas[0]).</param>
/// <param name="Beta2">Decay of the second moment (torch betas[1]).</param>
/// <param name="Epsilon">Added to the bias-corrected sqrt of the second moment.</param>
/// <param name="WeightDecay">Decoupled decay: p *= 1 - lr·wd before the Adam update.</param>
/// <param name="MaxGradNorm">Global L2 clip threshold; null builds a graph without clipping.</param>
public sealed record AdamWOptions(
    float Beta1 = 0.9f,
    float Beta2 = 0.999f,
    float Epsilon = 1e-8f,
    float WeightDecay = 0.01f,
    float? MaxGradNorm = null)
{
    /// <summary>Throws when a value is outside the range torch.optim.AdamW accepts.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0f && Beta1 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "beta1 must be in [0, 1)");
        }
        if (!(Beta2 >= 0f && Beta2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "beta2 must be in [0, 1)");
        }
        if (!(Epsilon >= 0f) || float.IsInfinity(Epsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "epsilon must be finite and >= 0");
        }
        if (!(WeightDecay >= 0f) || float.IsInfinity(WeightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight decay must be finite and >= 0");
        }
        if (MaxGradNorm is { } max && !(max > 0f && float.IsFinite(max)))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), max, "max grad norm must be finite and > 0 (null disables clipping)");
        }
    }
}
