// Where each GenAI-layout weight comes from in a HF Llama checkpoint, and how it is turned
// around: projections are stored [out, in] by torch and [in, out] by GenAI, so they are
// transposed while streaming. Shapes are checked against the config before anything is written.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Import;

public sealed record HfWeightMapping(string Source, long[] SourceShape, bool Transpose)
{
    /// <summary>Streams the tensor into <paramref name="stream"/> in <paramref name="target"/> dtype (one matrix in memory).</summary>
    public void WriteTo(IWeightSource source, ElementType target, Stream stream)
    {
        long n = Initializer.ElementCount(SourceShape);
        var values = new float[n];
        source.ReadFloat32(Source, values);
        if (Transpose)
        {
            values = Transposed(values, (int)SourceShape[0], (int)SourceShape[1]);
        }
        var bytes = new byte[n * target.SizeInBytes()];
        ElementConversion.FromFloat32(target, values, bytes);
        stream.Write(bytes);
    }

    public static float[] Transposed(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        const int tile = 32;
        for (int r0 = 0; r0 < rows; r0 += tile)
        {
            for (int c0 = 0; c0 < cols; c0 += tile)
            {
                int r1 = Math.Min(rows, r0 + tile), c1 = Math.Min(cols, c0 + tile);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        t[(long)c * rows + r] = m[(long)r * cols + c];
                    }
                }
            }
        }
        return t;
    }
}

public static class HfWeightMap
{
    public static Dictionary<string, HfWeightMapping> Build(LlamaConfig c, IWeightSource source)
    {
        var map = new Dictionary<string, HfWeightMapping>(StringComparer.Ordinal);
        foreach (var (name, shape) in GenAiLlamaGraph.WeightShapes(c))
        {
            var (hf, transpose) = SourceOf(name, c);
            if (!source.Contains(hf))
            {
                throw new ModelFormatException($"checkpoint: missing tensor '{hf}' (needed for {name})");
            }
            var expected = transpose ? new[] { shape[1], shape[0] } : shape;
            var actual = source.Shape(hf);
            if (!actual.SequenceEqual(expected))
            {
                throw new ModelFormatException(
                    $"checkpoint: tensor '{hf}' has shape [{string.Join(",", actual)}], config.json implies [{string.Join(",", expected)}]");
            }
            map[name] = new HfWeightMapping(hf, actual, transpose);
        }
        return map;
    }

    private static (string Source, bool Transpose) SourceOf(string genAiName, LlamaConfig c)
    {
        if (genAiName == GenAiNames.Embedding)
        {
            return ("model.embed_tokens.weight", false);
        }
        if (genAiName == GenAiNames.LmHead)
        {
            return (c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight", true);
        }
        if (genAiName == GenAiNames.FinalNorm(c.NumHiddenLayers))
        {
            return ("model.norm.weight", false);
        }
        if (genAiName.EndsWith("layernorm.weight", StringComparison.Ordinal))
        {
            return (genAiName, false);
        }
        var module = GenAiNames.HfModuleOf(genAiName) ?? throw new InvalidOperationException(genAiName);
        return (module + ".weight", true);
    }
}
