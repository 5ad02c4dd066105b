// The tokenizer.json path (HfBpeTokenizer): on the fixture's SentencePiece-style file it must give what HF tokenizers
// gave (tokenizer_reference.json "tokenizers_ids", including its handling of leading spaces), merge equal-rank pairs
// leftmost first (SentencePiece's order), fall back to bytes and turn written specials into ids; on Llama 3.1's
// byte-level file it must honour ignore_merges (a whole word in the vocabulary is one token, as transformers.js gives).
using System.Text.Json;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Models.Tests.Tokenization;

public sealed class HfBpeTokenizerTests
{
    private static string BaseDir => Path.Combine(TestPaths.Fixtures, "tiny-llama", "base");

    public static TheoryData<int> SampleIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Samples().Count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SampleIndices))]
    public void EncodeMatchesHfTokenizersOnFixtureSamples(int index)
    {
        var tok = TextTokenizer.Load(BaseDir);
        Assert.Equal("sentencepiece-bpe", tok.Kind);
        var (text, hfIds, hfDecoded) = Samples()[index];
        Assert.Equal(hfIds, tok.Encode(text, addSpecialTokens: false));
        Assert.Equal(hfDecoded, tok.Decode(hfIds));
    }

    [Fact]
    public void EqualRankMergesGoLeftmostFirst()
    {
        var tok = TextTokenizer.Load(BaseDir);
        // "x---y": ▁x, --, -, y (SentencePiece and HF); Microsoft.ML.Tokenizers' LlamaTokenizer gives ▁x, -, --, y.
        Assert.Equal(new[] { 416, 445, 262, 418, 442 }, tok.Encode("x---y", addSpecialTokens: false));
    }

    [Fact]
    public void CharactersOutsideTheVocabularyFallBackToBytes()
    {
        var tok = TextTokenizer.Load(BaseDir);
        var ids = tok.Encode("🦜", addSpecialTokens: false);
        // ▁ then the four UTF-8 bytes F0 9F A6 9C as <0xNN> tokens (ids 3 + byte value in a SentencePiece vocab).
        Assert.Equal(new[] { 0xF0 + 3, 0x9F + 3, 0xA6 + 3, 0x9C + 3 }, ids.Skip(ids.Count - 4));
        Assert.Equal("🦜", tok.Decode(ids));
    }

    [Fact]
    public void SpecialTokensWrittenInTextBecomeTheirIds()
    {
        var tok = TextTokenizer.Load(BaseDir);
        var ids = tok.Encode("<s>Hi</s>", addSpecialTokens: false);
        Assert.Equal(1, ids[0]);
        Assert.Equal(2, ids[^1]);
        Assert.Equal("Hi", tok.Decode(ids.Skip(1).SkipLast(1)));
        Assert.DoesNotContain(1, ids.Skip(1));
    }

    [Fact]
    public void IgnoreMergesTakesAWholeWordFromTheVocabulary()
    {
        var tok = TextTokenizer.Load(ChatReference.ModelDir("llama3_1"));
        Assert.Equal("bytelevel-bpe", tok.Kind);
        // " Václav" is one vocabulary entry that the merges alone would split into 650, 1995, 566, 402.
        Assert.Equal(new[] { 123677 }, tok.Encode(" Václav", addSpecialTokens: false));
        Assert.Equal(" Václav", tok.Decode([123677]));
    }

    private static List<(string Text, int[] Ids, string Decoded)> Samples()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(BaseDir, "tokenizer_reference.json")));
        return doc.RootElement.GetProperty("samples").EnumerateArray()
            .Select(s => (s.GetProperty("text").GetString()!,
                s.GetProperty("tokenizers_ids").EnumerateArray().Select(i => i.GetInt32()).ToArray(),
                s.GetProperty("tokenizers_decoded").GetString()!))
            .ToList();
    }
}
