// Next-token choice from one logits row: argmax (greedy) or temperature → top-k → top-p sampling,
// in the order GenAI applies them. Ties in argmax go to the lowest id, as in GenAI and torch.
// It does not apply repetition penalties or beam search.
using System.Numerics.Tensors;

namespace OnnxLora.Inference;

public static class TokenSampler
{
    public static int ArgMax(ReadOnlySpan<float> logits) => TensorPrimitives.IndexOfMax(logits);

    public static int Sample(float[] logits, GenerationOptions o, Random random)
    {
        int k = o.TopK > 0 ? Math.Min(o.TopK, logits.Length) : logits.Length;
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(k).ToArray();
        var p = new float[order.Length];
        for (int i = 0; i < order.Length; i++)
        {
            p[i] = (float)(logits[order[i]] / o.Temperature);
        }
        TensorPrimitives.SoftMax(p, p);
        int keep = p.Length;
        if (o.TopP < 1.0)
        {
            double cumulative = 0;
            for (int i = 0; i < p.Length; i++)
            {
                cumulative += p[i];
                if (cumulative >= o.TopP)
                {
                    keep = i + 1;
                    break;
                }
            }
        }
        double mass = 0;
        for (int i = 0; i < keep; i++)
        {
            mass += p[i];
        }
        double u = random.NextDouble() * mass;
        for (int i = 0; i < keep; i++)
        {
            u -= p[i];
            if (u <= 0)
            {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
