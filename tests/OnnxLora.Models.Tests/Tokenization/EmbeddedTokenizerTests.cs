// Checks the project's own embedded tokenizer: deterministic files, standard HF structure, ~512 vocab,
// loadable by TextTokenizer with BOS/EOS/PAD as configured, and lossless round trips of English and unicode.
using System.Text.Json;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Models.Tests.Tokenization;

public sealed class EmbeddedTokenizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tok-emb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WritesIdenticalBytesEveryTime()
    {
        string other = Path.Combine(_dir, "again");
        EmbeddedTokenizer.WriteTo(_dir);
        EmbeddedTokenizer.WriteTo(other);
        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, name)), File.ReadAllBytes(Path.Combine(other, name)));
        }
    }

    [Fact]
    public void WritesStandardHuggingFaceStructure()
    {
        EmbeddedTokenizer.WriteTo(_dir);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_dir, "tokenizer.json")));
        var root = doc.RootElement;
        Assert.Equal("1.0", root.GetProperty("version").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("normalizer").ValueKind);
        Assert.Equal("ByteLevel", root.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        Assert.Equal("ByteLevel", root.GetProperty("decoder").GetProperty("type").GetString());
        Assert.Equal("TemplateProcessing", root.GetProperty("post_processor").GetProperty("type").GetString());
        var model = root.GetProperty("model");
        Assert.Equal("BPE", model.GetProperty("type").GetString());
        var ids = model.GetProperty("vocab").EnumerateObject().Select(p => p.Value.GetInt32()).OrderBy(i => i).ToArray();
        Assert.Equal(Enumerable.Range(0, EmbeddedTokenizer.VocabSize), ids);
        Assert.Equal(EmbeddedTokenizer.VocabSize - 3 - 256, model.GetProperty("merges").GetArrayLength());
        Assert.Equal(3, root.GetProperty("added_tokens").GetArrayLength());
    }

    [Fact]
    public void LoadsWithConfiguredSpecialTokens()
    {
        EmbeddedTokenizer.WriteTo(_dir);
        var tok = TextTokenizer.Load(_dir);
        Assert.Equal("bytelevel-bpe", tok.Kind);
        Assert.Equal(EmbeddedTokenizer.VocabSize, tok.VocabSize);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(0, tok.PadId);
        Assert.Equal(EmbeddedTokenizer.ChatTemplate, tok.ChatTemplate);
        var ids = tok.Encode("Ahoy");
        Assert.Equal(1, ids[0]);
        Assert.DoesNotContain(2, ids);
    }

    [Theory]
    [InlineData("Arr, matey! Ye be wantin' the treasure?")]
    [InlineData("Unicode: café, naïve, 日本語, emoji 🙂 and ZWJ 👩‍💻")]
    [InlineData("  indented\tcode\n    return x ** 2  # square\r\n")]
    [InlineData("The quick brown fox jumps over the lazy dog. 3.14159, 2,718; 1e-6")]
    [InlineData("")]
    public void RoundTripsText(string text)
    {
        EmbeddedTokenizer.WriteTo(_dir);
        var tok = TextTokenizer.Load(_dir);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void LearnedMergesCompressEnglish()
    {
        EmbeddedTokenizer.WriteTo(_dir);
        var tok = TextTokenizer.Load(_dir);
        const string text = "Arr, matey! Ye be wantin' the treasure?";
        int count = tok.Encode(text, addSpecialTokens: false).Count;
        // 253 merges from a small corpus: well under one token per byte, about two characters per token.
        Assert.True(count < text.Length * 2 / 3, $"{count} tokens for {text.Length} chars");
    }
}
