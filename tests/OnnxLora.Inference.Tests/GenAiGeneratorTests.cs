// GenAI greedy decoding on our imported GenAI layout must equal an argmax loop over our own no-cache
// forward: this catches KV-cache / GQA layout mistakes in the importer. Also checks text streaming.
namespace OnnxLora.Inference.Tests;

public sealed class GenAiGeneratorTests(InferenceFixture fx) : IClassFixture<InferenceFixture>
{
    private const int Eos = 2;
    private const int NewTokens = 12;
    private const int MinCompared = 8;

    [Theory]
    [InlineData(new[] { 1, 15, 200, 37, 90 })]
    [InlineData(new[] { 1, 300, 4, 4, 17, 250, 99, 64 })]
    public void GreedyTokensEqualFullSequenceArgmax(int[] prompt)
    {
        using var gen = new GenAiGenerator(fx.BaseDir);
        var ours = gen.GenerateTokens(prompt, new GenerationOptions { MaxNewTokens = NewTokens }).ToList();
        var work = fx.NewPath("ref");
        Directory.CreateDirectory(work);
        var reference = ReferenceDecoder.Greedy(fx.BaseDir, prompt, NewTokens, Eos, work);
        Assert.Equal(reference, ours);
        Assert.True(ours.Count >= MinCompared, $"only {ours.Count} tokens compared");
    }

    [Fact]
    public void MergedModelGreedyEqualsItsOwnArgmax()
    {
        int[] prompt = [1, 42, 7, 120];
        using var gen = new GenAiGenerator(fx.MergedDir);
        var ours = gen.GenerateTokens(prompt, new GenerationOptions { MaxNewTokens = NewTokens }).ToList();
        var work = fx.NewPath("ref-merged");
        Directory.CreateDirectory(work);
        Assert.Equal(ReferenceDecoder.Greedy(fx.MergedDir, prompt, NewTokens, Eos, work), ours);
    }

    [Fact]
    public void StreamsTextForATextPrompt()
    {
        using var gen = new GenAiGenerator(fx.BaseDir);
        var pieces = gen.GenerateText("Hello world", new GenerationOptions { MaxNewTokens = 5, Temperature = 0.8, Seed = 7 }).ToList();
        Assert.NotEmpty(pieces);
        Assert.True(pieces.Count <= 5);
    }
}
