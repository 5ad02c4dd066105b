// Our ORT KV-cache loop (OrtDecoder, IOBinding, cache kept where ORT puts it) against ORT GenAI on CPU:
// greedy tokens must be identical on the imported fixture and on a random tiny Llama, EOS suppressed
// so that every one of the NewTokens positions is compared. Sampling is checked for determinism per seed.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Inference.Tests;

public sealed class OrtDecoderTests(InferenceFixture fx) : IClassFixture<InferenceFixture>
{
    private const int NewTokens = 20;

    [Theory]
    [InlineData(new[] { 1, 15, 200, 37, 90 })]
    [InlineData(new[] { 1, 300, 4, 4, 17, 250, 99, 64 })]
    public void GreedyTokensEqualGenAiOnFixture(int[] prompt) => AssertGreedyEqual(fx.BaseDir, prompt);

    [Fact]
    public void GreedyTokensEqualGenAiOnRandomTinyLlama()
    {
        var hf = fx.NewPath("random-hf");
        var dir = fx.NewPath("random");
        RandomLlama.Write(hf, RandomLlama.Preset("tiny"), seed: 11);
        EmbeddedTokenizer.WriteTo(hf);
        HfImporter.Import(hf, dir);
        AssertGreedyEqual(dir, [1, 40, 41, 42, 500, 7]);
    }

    [Fact]
    public void SamplingIsDeterministicPerSeedAndStaysInVocabulary()
    {
        using var dec = new OrtDecoder(fx.BaseDir, new RuntimeOptions());
        var o = new GenerationOptions { MaxNewTokens = 10, MinNewTokens = 10, Temperature = 0.9, TopK = 20, TopP = 0.9, Seed = 5 };
        var a = dec.GenerateTokens([1, 15, 200], o).ToList();
        var b = dec.GenerateTokens([1, 15, 200], o).ToList();
        Assert.Equal(a, b);
        Assert.Equal(10, a.Count);
        Assert.All(a, t => Assert.InRange(t, 0, 511));
    }

    private static void AssertGreedyEqual(string dir, int[] prompt)
    {
        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        List<int> genai;
        using (var gen = new GenAiGenerator(dir))
        {
            genai = gen.GenerateTokens(prompt, o).ToList();
        }
        using var dec = new OrtDecoder(dir, new RuntimeOptions());
        var ours = dec.GenerateTokens(prompt, o).ToList();
        Assert.Equal(NewTokens, genai.Count);
        Assert.Equal(genai, ours);
    }
}
