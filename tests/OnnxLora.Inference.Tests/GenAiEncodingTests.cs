// GenAI's prompt encoding agrees with ours (and transformers'): same ids, BOS included as
// tokenizer_config.json asks, so `generate --engine genai` and `--engine ort` see the same prompt.
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Inference.Tests;

public sealed class GenAiEncodingTests
{
    [Theory]
    [InlineData("Hello world")]
    [InlineData("The quick brown fox jumps over the lazy dog.")]
    public void PromptIdsMatchOurTokenizerIncludingBos(string text)
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["m"]);
        var ours = TextTokenizer.Load(dir["m"]).Encode(text);
        using var g = new GenAiGenerator(dir["m"]);
        var theirs = g.Encode(text);
        Assert.Equal(1, theirs[0]);
        Assert.Equal(ours, theirs);
    }
}
