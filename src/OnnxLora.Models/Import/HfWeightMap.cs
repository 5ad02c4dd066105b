// Where each GenAI-layout weight comes from in a HF Llama checkpoint, and how it is turned
// around: projections are stored [out, in] by torch and [in, out] by GenAI, so they are
// transposed while streaming, a block at a time (working memory bounded, not one matrix). Shapes are checked against the config before anything is written.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Import;

public sealed record HfWeightMapping(string Source, long[] SourceShape, bool Transpose)
{
    /// <summary>Values converted per block: the importer's working memory stays near 10 bytes × this, whatever the matrix size.</summary>
    public const int BlockValues = 1 << 24;

    /// <summary>Source rows read per tile of a transposed block (contiguous writes of this many values).</summary>
    private const int TileRows = 32;

    /// <summary>Streams the tensor into <paramref name="stream"/> in <paramref name="target"/> dtype, a block at a time.</summary>
    public void WriteTo(IWeightSource source, ElementType target, Stream stream)
    {
        using var scratch = new ImportScratch();
        WriteTo(source, target, stream, scratch);
    }

    /// <summary>As above, with working arrays shared by every tensor of one import.</summary>
    internal void WriteTo(IWeightSource source, ElementType target, Stream stream, ImportScratch scratch)
    {
        long n = Initializer.ElementCount(SourceShape);
        int size = target.SizeInBytes();
        if (!Transpose)
        {
            int blockValues = (int)Math.Min(n, BlockValues);
            var values = scratch.Values(blockValues);
            var bytes = scratch.Bytes(blockValues * size);
            for (long done = 0; done < n; done += blockValues)
            {
                int count = (int)Math.Min(blockValues, n - done);
                source.ReadFloat32(Source, done, values[..count]);
                ElementConversion.FromFloat32(target, values[..count], bytes[..(count * size)]);
                stream.Write(bytes[..(count * size)]);
            }
            return;
        }
        // [rows, cols] → [cols, rows]: output row c is source column c. One block = the output rows of
        // `width` source columns, gathered tile by tile of source rows so the writes stay contiguous.
        long rows = SourceShape[0], cols = SourceShape[1];
        int width = (int)Math.Clamp(BlockValues / rows, 1, cols);
        var block = scratch.Values((int)(width * rows));
        var tile = scratch.Tile(TileRows * width);
        var output = scratch.Bytes((int)(width * rows) * size);
        for (long c0 = 0; c0 < cols; c0 += width)
        {
            int w = (int)Math.Min(width, cols - c0);
            for (long r0 = 0; r0 < rows; r0 += TileRows)
            {
                int h = (int)Math.Min(TileRows, rows - r0);
                for (int t = 0; t < h; t++)
                {
                    source.ReadFloat32(Source, (r0 + t) * cols + c0, tile.Slice(t * w, w));
                }
                for (int j = 0; j < w; j++)
                {
                    int at = (int)(j * rows + r0);
                    for (int t = 0; t < h; t++)
                    {
                        block[at + t] = tile[t * w + j];
                    }
                }
            }
            int count = (int)(w * rows);
            ElementConversion.FromFloat32(target, block[..count], output[..(count * size)]);
            stream.Write(output[..(count * size)]);
        }
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
