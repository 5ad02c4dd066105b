// A plain managed re-implementation of torch.optim.AdamW (single-tensor, non-amsgrad) and
// clip_grad_norm_, the yardstick for the ONNX graph. Float mode keeps tensors in float32 and
// scalars in double, as torch does; double mode does everything in double. Updates in place.
namespace OnnxLora.Autodiff.Tests.Optim;

internal sealed record AdamWReference(double Beta1, double Beta2, double Epsilon, double WeightDecay, double? MaxGradNorm)
{
    /// <summary>One step in float32 tensors; returns (grad_norm, grad_finite). Skips the update when not finite.</summary>
    public (float Norm, bool Finite) StepFloat(IReadOnlyList<float[]> p, IReadOnlyList<float[]> grad,
        IReadOnlyList<float[]> m, IReadOnlyList<float[]> v, float lr, long step, float gradScale, float? normOverride = null)
    {
        var g = grad.Select(x => x.Select(e => e * gradScale).ToArray()).ToArray();
        bool finite = g.All(x => x.All(float.IsFinite));
        // torch's CPU norm accumulates float32 in double and returns float32. The caller may pass
        // the graph's own norm instead (checked separately), so a last-ulp difference from
        // summation order does not leak into the clip coefficient.
        var norms = g.Select(x => (float)Math.Sqrt(x.Sum(e => (double)e * e))).ToArray();
        float total = (float)Math.Sqrt(norms.Sum(n => (double)n * n));
        if (!finite)
        {
            return (total, false);
        }
        if (MaxGradNorm is { } max)
        {
            float coef = (float)max / ((normOverride ?? total) + 1e-6f);
            float clamped = Math.Min(coef, 1f);
            foreach (var x in g)
            {
                for (int k = 0; k < x.Length; k++)
                {
                    x[k] *= clamped;
                }
            }
        }
        double lrD = lr;
        double bc1 = 1 - Math.Pow(Beta1, step);
        double bc2 = 1 - Math.Pow(Beta2, step);
        float stepSize = (float)(lrD / bc1);
        float bc2Sqrt = (float)Math.Sqrt(bc2);
        float decay = (float)(1 - lrD * WeightDecay);
        float w = (float)(1 - Beta1);
        float b2 = (float)Beta2;
        float oneMinusB2 = (float)(1 - Beta2);
        float eps = (float)Epsilon;
        for (int i = 0; i < p.Count; i++)
        {
            for (int k = 0; k < p[i].Length; k++)
            {
                float gk = g[i][k];
                float pk = WeightDecay == 0 ? p[i][k] : p[i][k] * decay;
                float mk = w < 0.5f ? m[i][k] + w * (gk - m[i][k]) : gk - (gk - m[i][k]) * (1f - w);
                float vk = v[i][k] * b2 + oneMinusB2 * gk * gk;
                float denom = MathF.Sqrt(vk) / bc2Sqrt + eps;
                p[i][k] = pk - stepSize * mk / denom;
                m[i][k] = mk;
                v[i][k] = vk;
            }
        }
        return (total, true);
    }

    /// <summary>The same step with every tensor and scalar in double.</summary>
    public (double Norm, bool Finite) StepDouble(IReadOnlyList<double[]> p, IReadOnlyList<float[]> grad,
        IReadOnlyList<double[]> m, IReadOnlyList<double[]> v, float lr, long step, float gradScale)
    {
        var g = grad.Select(x => x.Select(e => (double)e * gradScale).ToArray()).ToArray();
        bool finite = g.All(x => x.All(double.IsFinite));
        double total = Math.Sqrt(g.Sum(x => x.Sum(e => e * e)));
        if (!finite)
        {
            return (total, false);
        }
        if (MaxGradNorm is { } max)
        {
            double clamped = Math.Min(max / (total + 1e-6), 1.0);
            foreach (var x in g)
            {
                for (int k = 0; k < x.Length; k++)
                {
                    x[k] *= clamped;
                }
            }
        }
        double bc1 = 1 - Math.Pow(Beta1, step);
        double bc2 = 1 - Math.Pow(Beta2, step);
        for (int i = 0; i < p.Count; i++)
        {
            for (int k = 0; k < p[i].Length; k++)
            {
                double gk = g[i][k];
                double pk = p[i][k] * (1 - lr * WeightDecay);
                double mk = Beta1 * m[i][k] + (1 - Beta1) * gk;
                double vk = Beta2 * v[i][k] + (1 - Beta2) * gk * gk;
                double denom = Math.Sqrt(vk) / Math.Sqrt(bc2) + Epsilon;
                p[i][k] = pk - lr / bc1 * mk / denom;
                m[i][k] = mk;
                v[i][k] = vk;
            }
        }
        return (total, true);
    }
}
