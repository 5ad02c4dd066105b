// Learns byte-level BPE merges from a text: the most frequent adjacent symbol pair is merged, repeatedly.
// It only produces vocab/merges files' contents; it never encodes text for the model (Microsoft.ML.Tokenizers does).
// Deterministic: words are counted once, and ties between equally frequent pairs break by ordinal order.
// Pair counts are kept incrementally (only words holding the merged pair are recounted), so a few
// thousand merges over a corpus of megabytes take seconds; the result equals recounting every pair each time.
using System.Text;
using System.Text.RegularExpressions;

namespace OnnxLora.Models.Tokenization;

internal static class BpeMergeTrainer
{
    /// <summary>Up to <paramref name="maxMerges"/> merges, in the order they were learned.</summary>
    public static IReadOnlyList<(string Left, string Right)> Train(string corpus, int maxMerges)
    {
        var table = new SymbolTable();
        var words = CountWords(corpus, table);
        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < words.Count; w++)
        {
            AddPairs(words[w].Symbols, words[w].Count, w, pairCounts, pairWords);
        }

        var merges = new List<(string, string)>(maxMerges);
        while (merges.Count < maxMerges && pairCounts.Count > 0)
        {
            long best = Best(pairCounts, table);
            int left = Left(best), right = Right(best);
            int merged = table.Intern(table.Text(left) + table.Text(right));
            merges.Add((table.Text(left), table.Text(right)));
            // Snapshot: recounting a word may add it to the sets of pairs it newly holds.
            foreach (int w in pairWords[best].Order().ToArray())
            {
                var (symbols, count) = words[w];
                if (!Holds(symbols, left, right))
                {
                    continue; // a stale entry: an earlier merge already consumed this word's occurrence
                }
                RemovePairs(symbols, count, pairCounts);
                Apply(symbols, left, right, merged);
                AddPairs(symbols, count, w, pairCounts, pairWords);
            }
            pairWords.Remove(best);
        }
        return merges;
    }

    /// <summary>Words of the corpus, split exactly as the GPT-2 ByteLevel pre-tokenizer will at encode time (merges never cross pieces).</summary>
    private static List<(List<int> Symbols, long Count)> CountWords(string corpus, SymbolTable table)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(corpus, ByteLevelAlphabet.Gpt2Pattern))
        {
            string piece = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(m.Value));
            counts[piece] = counts.GetValueOrDefault(piece) + 1;
        }
        return counts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (kv.Key.Select(c => table.Intern(c.ToString())).ToList(), kv.Value))
            .ToList();
    }

    // Highest count; ties by the left symbol's text, then the right's (ordinal).
    private static long Best(Dictionary<long, long> pairCounts, SymbolTable table)
    {
        long best = 0, bestCount = -1;
        foreach (var (pair, count) in pairCounts)
        {
            if (count > bestCount || (count == bestCount && Before(pair, best, table)))
            {
                best = pair;
                bestCount = count;
            }
        }
        return best;
    }

    private static bool Before(long a, long b, SymbolTable table)
    {
        int c = string.CompareOrdinal(table.Text(Left(a)), table.Text(Left(b)));
        return c < 0 || (c == 0 && string.CompareOrdinal(table.Text(Right(a)), table.Text(Right(b))) < 0);
    }

    private static void AddPairs(List<int> symbols, long count, int word, Dictionary<long, long> pairCounts, Dictionary<long, HashSet<int>> pairWords)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            long pair = Pair(symbols[i], symbols[i + 1]);
            pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
            if (!pairWords.TryGetValue(pair, out var set))
            {
                pairWords[pair] = set = [];
            }
            set.Add(word);
        }
    }

    private static void RemovePairs(List<int> symbols, long count, Dictionary<long, long> pairCounts)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            long pair = Pair(symbols[i], symbols[i + 1]);
            long left = pairCounts[pair] - count;
            if (left == 0)
            {
                pairCounts.Remove(pair);
            }
            else
            {
                pairCounts[pair] = left;
            }
        }
    }

    private static bool Holds(List<int> symbols, int left, int right)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                return true;
            }
        }
        return false;
    }

    // Left to right, non-overlapping: "a a a" with (a, a) becomes "aa a".
    private static void Apply(List<int> symbols, int left, int right, int merged)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[i] = merged;
                symbols.RemoveAt(i + 1);
            }
        }
    }

    private static long Pair(int left, int right) => ((long)left << 32) | (uint)right;

    private static int Left(long pair) => (int)(pair >> 32);

    private static int Right(long pair) => (int)(pair & 0xffffffff);

    /// <summary>Symbol texts by id; equal texts (however they were merged) share one id, as they share one vocab entry.</summary>
    private sealed class SymbolTable
    {
        private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
        private readonly List<string> _texts = [];

        public int Intern(string text)
        {
            if (!_ids.TryGetValue(text, out int id))
            {
                id = _texts.Count;
                _ids[text] = id;
                _texts.Add(text);
            }
            return id;
        }

        public string Text(int id) => _texts[id];
    }
}
