// Checks the random-init checkpoint writer: HF names and [out, in] shapes, HF-like init statistics,
// determinism from the seed, and that the tiny preset imports into a GenAI-layout model.
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Models.Tests;

public sealed class RandomLlamaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("random-llama-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TinyPresetWritesHfNamesAndShapes()
    {
        var c = RandomLlama.Preset("tiny");
        RandomLlama.Write(_dir, c, seed: 7);
        using var st = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"));
        Assert.Equal(4 * 9 + 3, st.Names.Count);
        Assert.Equal([512L, 128], st.GetInfo("model.embed_tokens.weight").Shape);
        Assert.Equal([128L, 128], st.GetInfo("model.layers.0.self_attn.q_proj.weight").Shape);
        Assert.Equal([64L, 128], st.GetInfo("model.layers.3.self_attn.k_proj.weight").Shape);
        Assert.Equal([344L, 128], st.GetInfo("model.layers.1.mlp.gate_proj.weight").Shape);
        Assert.Equal([128L, 344], st.GetInfo("model.layers.1.mlp.down_proj.weight").Shape);
        Assert.Equal([512L, 128], st.GetInfo("lm_head.weight").Shape);
        Assert.All(st.ReadAsFloat32("model.norm.weight"), v => Assert.Equal(1f, v));
        var w = st.ReadAsFloat32("model.layers.2.mlp.up_proj.weight");
        double mean = w.Average(x => (double)x), std = Math.Sqrt(w.Average(x => (x - mean) * (x - mean)));
        Assert.InRange(mean, -0.001, 0.001);
        Assert.InRange(std, 0.019, 0.021);
    }

    [Fact]
    public void SameSeedGivesSameBytes()
    {
        var c = RandomLlama.Preset("tiny");
        RandomLlama.Write(Path.Combine(_dir, "a"), c, seed: 3);
        RandomLlama.Write(Path.Combine(_dir, "b"), c, seed: 3);
        RandomLlama.Write(Path.Combine(_dir, "c"), c, seed: 4);
        var a = File.ReadAllBytes(Path.Combine(_dir, "a", "model.safetensors"));
        Assert.Equal(a, File.ReadAllBytes(Path.Combine(_dir, "b", "model.safetensors")));
        Assert.NotEqual(a, File.ReadAllBytes(Path.Combine(_dir, "c", "model.safetensors")));
    }

    [Fact]
    public void TinyPresetImportsWithHfImporter()
    {
        var hf = Path.Combine(_dir, "hf");
        var outDir = Path.Combine(_dir, "genai");
        RandomLlama.Write(hf, RandomLlama.Preset("tiny"), seed: 1);
        var config = HfImporter.Import(hf, outDir);
        var expected = RandomLlama.Preset("tiny");
        Assert.Equal((expected.VocabSize, expected.HiddenSize, expected.IntermediateSize, expected.NumHiddenLayers),
            (config.VocabSize, config.HiddenSize, config.IntermediateSize, config.NumHiddenLayers));
        Assert.Equal((expected.NumAttentionHeads, expected.NumKeyValueHeads, expected.HeadDim, expected.MaxPositionEmbeddings),
            (config.NumAttentionHeads, config.NumKeyValueHeads, config.HeadDim, config.MaxPositionEmbeddings));
        Assert.Equal(expected.EosTokenIds, config.EosTokenIds);
        var model = ModelReader.Load(Path.Combine(outDir, "model.onnx"));
        var inits = model.Graph.Initializers;
        Assert.Equal([512L, 128], inits[GenAiNames.Embedding].Dims);
        Assert.Equal([128L, 512], inits[GenAiNames.LmHead].Dims);
        Assert.Equal([128L, 64], inits[GenAiNames.Projection(0, "k_proj")].Dims);
        Assert.Equal([344L, 128], inits[GenAiNames.Projection(3, "down_proj")].Dims);
        Assert.Equal([128L, 344], inits[GenAiNames.Projection(3, "up_proj")].Dims);
    }

    [Fact]
    public void PretrainPresetHasAbout8MParametersAndTheBpeWritersSpecialIds()
    {
        var c = RandomLlama.Preset("pretrain-8m");
        long parameters = RandomLlama.TensorShapes(c).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
        // 8 layers x (q,k,v,o 196,608 + MLP 528,384 + 2 norms 512) + embed and lm_head 2 x 1,048,576 + norm 256
        Assert.Equal(7_901_440, parameters);
        Assert.Equal(RandomLlama.PretrainVocabSize, c.VocabSize);
        Assert.Equal(OnnxLora.Models.Tokenization.ByteLevelBpeWriter.BosId, c.BosTokenId);
        Assert.Equal(OnnxLora.Models.Tokenization.ByteLevelBpeWriter.PadId, c.PadTokenId);
        Assert.Equal([OnnxLora.Models.Tokenization.ByteLevelBpeWriter.EosId], c.EosTokenIds);
        Assert.Contains("pretrain-8m", RandomLlama.Presets);
    }
}
