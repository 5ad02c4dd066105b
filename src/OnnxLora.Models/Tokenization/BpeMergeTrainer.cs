// Learns byte-level BPE merges from a text: the most frequent adjacent symbol pair is merged, repeatedly.
// It only produces vocab/merges files' contents; it never encodes text for the model (Microsoft.ML.Tokenizers does).
// Deterministic: words are counted once, and ties between equally frequent pairs break by ordinal order.
using System.Text;
using System.Text.RegularExpressions;

namespace OnnxLora.Models.Tokenization;

internal static class BpeMergeTrainer
{
    /// <summary>Up to <paramref name="maxMerges"/> merges, in the order they were learned.</summary>
    public static IReadOnlyList<(string Left, string Right)> Train(string corpus, int maxMerges)
    {
        // Split exactly as the GPT-2 ByteLevel pre-tokenizer will at encode time: merges never cross pieces.
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(corpus, ByteLevelAlphabet.Gpt2Pattern))
        {
            string piece = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(m.Value));
            counts[piece] = counts.GetValueOrDefault(piece) + 1;
        }
        var words = counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value))
            .ToList();

        var merges = new List<(string, string)>(maxMerges);
        while (merges.Count < maxMerges)
        {
            var pairCounts = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }
            var best = pairCounts
                .OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal)
                .ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal)
                .Select(kv => kv.Key)
                .FirstOrDefault();
            if (best == default)
            {
                break;
            }
            merges.Add(best);
            foreach (var (symbols, _) in words)
            {
                Apply(symbols, best.Item1, best.Item2);
            }
        }
        return merges;
    }

    private static void Apply(List<string> symbols, string left, string right)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[i] = left + right;
                symbols.RemoveAt(i + 1);
            }
        }
    }
}
