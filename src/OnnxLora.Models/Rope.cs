// Rotary-embedding tables in the layout GroupQueryAttention takes: cos/sin caches of shape
// (max_positions, head_dim/2), half-rotation (non-interleaved) as Llama uses. Frequencies are
// computed in float32 the way transformers does, including the llama3 frequency scaling.
namespace OnnxLora.Models;

public static class Rope
{
    public static float[] InverseFrequencies(LlamaConfig c)
    {
        int half = c.HeadDim / 2;
        var inv = new float[half];
        for (int j = 0; j < half; j++)
        {
            // transformers: 1.0 / (base ** (arange(0, dim, 2, dtype=int64).float() / dim)), in float32
            float exponent = (float)(2 * j) / c.HeadDim;
            inv[j] = 1.0f / MathF.Pow((float)c.RopeTheta, exponent);
        }
        if (c.RopeScaling is { Type: "llama3" } s)
        {
            double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
            double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
            for (int j = 0; j < half; j++)
            {
                double wavelen = 2 * Math.PI / inv[j];
                double f = inv[j];
                if (wavelen > lowWavelen)
                {
                    f /= s.Factor;
                }
                else if (wavelen >= highWavelen)
                {
                    double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    f = (1 - smooth) * f / s.Factor + smooth * f;
                }
                inv[j] = (float)f;
            }
        }
        else if (c.RopeScaling is { Type: "linear" } lin)
        {
            for (int j = 0; j < half; j++)
            {
                inv[j] = (float)(inv[j] / lin.Factor);
            }
        }
        return inv;
    }

    /// <summary>cos and sin caches, each (positions, head_dim/2), row p = angle p·inv_freq.</summary>
    public static (float[] Cos, float[] Sin) Caches(LlamaConfig c, int positions)
    {
        var inv = InverseFrequencies(c);
        int half = inv.Length;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int p = 0; p < positions; p++)
        {
            for (int j = 0; j < half; j++)
            {
                float angle = p * inv[j]; // float32 product, as torch's matmul of positions and inv_freq
                cos[p * half + j] = MathF.Cos(angle);
                sin[p * half + j] = MathF.Sin(angle);
            }
        }
        return (cos, sin);
    }
}
