// Builds a tiny Llama-3-style byte-level BPE tokenizer.json by hand (256 byte symbols, five merges, two added
// tokens, a Split regex pre-tokenizer, merges in the newer [a, b] form) and checks TextTokenizer loads it correctly.
using System.Text.Json;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;

namespace OnnxLora.Models.Tests.Tokenization;

public sealed class ByteLevelBpeTests : IDisposable
{
    private const int BeginId = 256 + 5;
    private const int EndId = BeginId + 1;
    private const string SplitRegex =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly string _dir = Directory.CreateTempSubdirectory("tok-bpe-").FullName;

    public ByteLevelBpeTests()
    {
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++)
        {
            vocab[ByteChar(b).ToString()] = b;
        }
        string[][] merges = [["Ġ", "t"], ["Ġt", "h"], ["Ġth", "e"], ["t", "h"], ["th", "e"]];
        foreach (var m in merges)
        {
            vocab[m[0] + m[1]] = vocab.Count;
        }
        var json = new
        {
            version = "1.0",
            added_tokens = new object[]
            {
                new { id = BeginId, content = "<|begin_of_text|>", special = true },
                new { id = EndId, content = "<|end_of_text|>", special = true },
            },
            normalizer = (object?)null,
            pre_tokenizer = new
            {
                type = "Sequence",
                pretokenizers = new object[]
                {
                    new { type = "Split", pattern = new { Regex = SplitRegex }, behavior = "Isolated", invert = false },
                    new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = false },
                },
            },
            decoder = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = true, use_regex = true },
            model = new { type = "BPE", vocab, merges },
        };
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), JsonSerializer.Serialize(json));
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"), $$"""
            {"add_bos_token": true, "bos_token": {"content": "<|begin_of_text|>", "special": true},
             "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
            """);
        File.WriteAllText(Path.Combine(_dir, "generation_config.json"), $$"""{"eos_token_id": [{{EndId}}, 7]}""");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EncodesWithVocabMergesAndBos()
    {
        var tok = TextTokenizer.Load(_dir);
        Assert.Equal("bytelevel-bpe", tok.Kind);
        Assert.Equal(BeginId, tok.BosId);
        Assert.Equal(EndId, tok.EosId);
        Assert.Null(tok.PadId);
        Assert.Equal(EndId + 1, tok.VocabSize);
        // Ids: Ġt=256, Ġth=257, Ġthe=258, th=259, the=260. "the the!" -> <|begin_of_text|>, "the", "Ġthe", "!"
        Assert.Equal(new[] { BeginId, 260, 258, '!' }, tok.Encode("the the!"));
        Assert.Equal(new[] { 260, 258, (int)'!' }, tok.Encode("the the!", addSpecialTokens: false));
    }

    [Fact]
    public void MatchesAddedTokensInTextAndSkipsThemOnDecode()
    {
        var tok = TextTokenizer.Load(_dir);
        var ids = tok.Encode("the<|end_of_text|>", addSpecialTokens: false);
        Assert.Equal(new[] { 260, EndId }, ids);
        Assert.Equal("the", tok.Decode(ids));
        Assert.Equal("the<|end_of_text|>", tok.Decode(ids, skipSpecialTokens: false));
    }

    [Theory]
    [InlineData("Arr, matey! Ye be wantin' the treasure?")]
    [InlineData("Unicode: café, naïve, 日本語, emoji 🙂")]
    [InlineData("  two leading spaces\tand\r\nnewlines  ")]
    public void RoundTripsArbitraryText(string text)
    {
        var tok = TextTokenizer.Load(_dir);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
    }

    [Fact]
    public void ChatTemplateListPrefersDefault()
    {
        Assert.Equal("D", TextTokenizer.Load(_dir).ChatTemplate);
    }

    [Fact]
    public void RejectsNonByteLevelTokenizerJson()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"),
            """{"model": {"type": "WordPiece", "vocab": {}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}""");
        var ex = Assert.Throws<BadInputException>(() => TextTokenizer.Load(_dir));
        Assert.Contains("model.type=WordPiece", ex.Message);
    }

    // GPT-2 byte-to-unicode table, restated independently of the production copy.
    private static char ByteChar(int b)
    {
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))
        {
            return (char)b;
        }
        int n = 0;
        for (int i = 0; i < b; i++)
        {
            if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255)))
            {
                n++;
            }
        }
        return (char)(256 + n);
    }
}
