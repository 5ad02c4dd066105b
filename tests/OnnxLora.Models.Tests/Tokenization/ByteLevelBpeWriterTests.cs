// Checks the corpus-trained byte-level BPE: its incremental merge learner gives exactly the merges of the
// straightforward one (recount every pair after every merge, same tie-break), the vocabulary has the asked
// size and loads with TextTokenizer, output is deterministic, and a size without room for merges is refused.
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Models.Tests.Tokenization;

public sealed class ByteLevelBpeWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tok-bpe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MergesEqualRecountingEveryPairAfterEachMerge()
    {
        // Few letters and many repeats: lots of equally frequent pairs (ties) and overlapping runs ("aaaa").
        string corpus = WordSoup(seed: 7, words: 3000, alphabet: "abcaab ") + "\nnaïve café ☕ aaaa aaaaa 12 123 1234\n" + WordSoup(seed: 8, words: 2000, alphabet: "xyzxxy");
        const int vocab = 420;
        var files = ByteLevelBpeWriter.Build(corpus, vocab);
        var expected = NaiveMerges(corpus, vocab - ByteLevelBpeWriter.BaseVocabSize);
        Assert.Equal(expected, Merges(files.Tokenizer));
    }

    [Fact]
    public void VocabularyHasTheAskedSizeAndLoads()
    {
        string corpus = string.Join("\n", Enumerable.Range(0, 200).Select(i => $"The ship number {i} sailed from the harbor at dawn, and the crew sang."));
        var files = ByteLevelBpeWriter.Build(corpus, 400);
        Assert.Equal(400, files.VocabSize);
        files.WriteTo(_dir);
        var tok = TextTokenizer.Load(_dir);
        Assert.Equal(400, tok.VocabSize);
        Assert.Equal(ByteLevelBpeWriter.BosId, tok.BosId);
        Assert.Equal(ByteLevelBpeWriter.EosId, tok.EosId);
        Assert.Equal(ByteLevelBpeWriter.PadId, tok.PadId);
        Assert.Equal(ByteLevelBpeWriter.ChatTemplate, tok.ChatTemplate);
        const string unseen = "The crew of ship 77 sang a new song, naïvely. ☕";
        Assert.Equal(unseen, tok.Decode(tok.Encode(unseen, addSpecialTokens: false)));
        const string seen = "The ship number 42 sailed from the harbor at dawn, and the crew sang.";
        var ids = tok.Encode(seen, addSpecialTokens: false);
        Assert.Equal(seen, tok.Decode(ids));
        Assert.True(ids.Count < seen.Length / 3, $"{ids.Count} tokens: merges learned from the corpus should cover its words");
    }

    [Fact]
    public void SameCorpusGivesIdenticalBytes()
    {
        string corpus = WordSoup(seed: 3, words: 1000, alphabet: "abcdefgh ");
        var a = ByteLevelBpeWriter.Build(corpus, 300);
        var b = ByteLevelBpeWriter.Build(corpus, 300);
        Assert.Equal(a.Tokenizer, b.Tokenizer);
        Assert.Equal(a.Config, b.Config);
    }

    [Fact]
    public void ThrowsForVocabularyWithoutRoomForMerges()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ByteLevelBpeWriter.Build("some text", ByteLevelBpeWriter.BaseVocabSize));
        Assert.Contains("more than 259", e.Message, StringComparison.Ordinal);
    }

    private static string WordSoup(int seed, int words, string alphabet)
    {
        var rng = new Random(seed);
        var b = new StringBuilder();
        for (int w = 0; w < words; w++)
        {
            int len = 1 + rng.Next(7);
            for (int i = 0; i < len; i++)
            {
                b.Append(alphabet[rng.Next(alphabet.Length)]);
            }
            b.Append(' ');
        }
        return b.ToString();
    }

    private static List<(string, string)> Merges(byte[] tokenizerJson)
    {
        using var doc = JsonDocument.Parse(tokenizerJson);
        return doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray()
            .Select(m => m.GetString()!.Split(' '))
            .Select(p => (p[0], p[1]))
            .ToList();
    }

    // The reference: count every adjacent pair of every word again after each merge; highest count wins,
    // ties by left then right symbol (ordinal); merge left to right without overlap.
    private static List<(string, string)> NaiveMerges(string corpus, int maxMerges)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(corpus, @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"))
        {
            string piece = string.Concat(Encoding.UTF8.GetBytes(m.Value).Select(ByteChar));
            counts[piece] = counts.GetValueOrDefault(piece) + 1;
        }
        var words = counts.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();
        while (merges.Count < maxMerges)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (s, n) in words)
            {
                for (int i = 0; i + 1 < s.Count; i++)
                {
                    pairs[(s[i], s[i + 1])] = pairs.GetValueOrDefault((s[i], s[i + 1])) + n;
                }
            }
            if (pairs.Count == 0)
            {
                break;
            }
            var best = pairs.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal)
                .ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            foreach (var (s, _) in words)
            {
                for (int i = 0; i + 1 < s.Count; i++)
                {
                    if (s[i] == best.Item1 && s[i + 1] == best.Item2)
                    {
                        s[i] = best.Item1 + best.Item2;
                        s.RemoveAt(i + 1);
                    }
                }
            }
        }
        return merges;
    }

    // GPT-2's bytes-to-unicode table: printable bytes map to themselves, the rest to U+0100 onwards.
    private static char ByteChar(byte b)
    {
        bool printable = b is >= (byte)'!' and <= (byte)'~' or >= 0xA1 and <= 0xAC or >= 0xAE;
        if (printable)
        {
            return (char)b;
        }
        int n = 0;
        for (int x = 0; x < b; x++)
        {
            bool p = x is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE;
            n += p ? 0 : 1;
        }
        return (char)(256 + n);
    }
}
