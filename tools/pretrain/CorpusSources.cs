// Reads the pretraining corpus from Debian's installed files and splits it by document.
// WordNet: each synset becomes "lemma, lemma (noun): gloss; "example"", and consecutive synsets of one data file
// are grouped into documents of at most MaxDocChars. Fortunes: each cookie (between "%" lines) is a document,
// long ones cut at line boundaries. Control characters are dropped. It reads nothing over the network.
using System.Text;

namespace OnnxLora.Tools.Pretrain;

internal static class CorpusSources
{
    /// <summary>Longest document, in characters (under ~220 tokens with the 4096-entry BPE, ~3.2 characters a token; rows are 256 tokens).</summary>
    public const int MaxDocChars = 600;

    private static readonly (string File, string Pos)[] s_wordNetFiles =
        [("data.noun", "noun"), ("data.verb", "verb"), ("data.adj", "adjective"), ("data.adv", "adverb")];

    // ascii-art is pictures, not prose
    private static readonly HashSet<string> s_skippedFortunes = new(StringComparer.Ordinal) { "ascii-art" };

    public static IEnumerable<CorpusDocument> WordNet(string dir)
    {
        foreach (var (file, pos) in s_wordNetFiles)
        {
            string path = Path.Combine(dir, file);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path}: not found (install Debian's wordnet-base: apt-get install wordnet-base)", path);
            }
            var group = new StringBuilder();
            int lineNo = 0;
            foreach (string line in File.ReadLines(path, Encoding.UTF8))
            {
                lineNo++;
                if (line.StartsWith("  ", StringComparison.Ordinal))
                {
                    continue; // the license header
                }
                string entry = Synset(line, pos, $"{path}:{lineNo}");
                if (group.Length > 0 && group.Length + 1 + entry.Length > MaxDocChars)
                {
                    yield return new CorpusDocument("wordnet", group.ToString());
                    group.Clear();
                }
                group.Append(group.Length > 0 ? "\n" : "").Append(entry);
            }
            if (group.Length > 0)
            {
                yield return new CorpusDocument("wordnet", group.ToString());
            }
        }
    }

    // "00406612 04 n 02 fold 0 folding 0 005 @ ... | the act of folding; "he gave ..."" → "fold, folding (noun): the act of ..."
    private static string Synset(string line, string pos, string where)
    {
        int bar = line.IndexOf(" | ", StringComparison.Ordinal);
        string[] f = (bar < 0 ? line : line[..bar]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (bar < 0 || f.Length < 4 || !int.TryParse(f[3], System.Globalization.NumberStyles.HexNumber, null, out int words) || f.Length < 4 + 2 * words)
        {
            throw new InvalidDataException($"{where}: not a WordNet data line (synset_offset lex_filenum ss_type w_cnt word lex_id ... | gloss)");
        }
        var lemmas = Enumerable.Range(0, words).Select(i => Lemma(f[4 + 2 * i])).Distinct(StringComparer.Ordinal);
        return $"{string.Join(", ", lemmas)} ({pos}): {Clean(line[(bar + 3)..]).Trim()}";
    }

    // "Christmas_tree", "big(a)" → "Christmas tree", "big"
    private static string Lemma(string word)
    {
        int paren = word.IndexOf('(', StringComparison.Ordinal);
        return (paren > 0 ? word[..paren] : word).Replace('_', ' ');
    }

    public static IEnumerable<CorpusDocument> Fortunes(string dir)
    {
        if (!Directory.Exists(dir))
        {
            throw new DirectoryNotFoundException($"{dir}: not found (install Debian's fortunes: apt-get install fortunes fortunes-min)");
        }
        var files = Directory.GetFiles(dir)
            .Where(p => Path.GetExtension(p) is "" && new FileInfo(p).LinkTarget is null && !s_skippedFortunes.Contains(Path.GetFileName(p)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new FileNotFoundException($"{dir}: no fortune files (install Debian's fortunes: apt-get install fortunes fortunes-min)");
        }
        foreach (string path in files)
        {
            var cookie = new List<string>();
            foreach (string line in File.ReadLines(path, Encoding.UTF8).Append("%"))
            {
                if (line != "%")
                {
                    cookie.Add(Clean(line).TrimEnd());
                    continue;
                }
                foreach (string piece in CutAtLines(cookie))
                {
                    yield return new CorpusDocument("fortunes", piece);
                }
                cookie.Clear();
            }
        }
    }

    private static IEnumerable<string> CutAtLines(List<string> lines)
    {
        var piece = new StringBuilder();
        foreach (string line in lines)
        {
            if (piece.Length > 0 && piece.Length + 1 + line.Length > MaxDocChars)
            {
                if (piece.ToString().Trim() is { Length: > 0 } done)
                {
                    yield return done;
                }
                piece.Clear();
            }
            piece.Append(piece.Length > 0 ? "\n" : "").Append(line.Length > MaxDocChars ? line[..MaxDocChars] : line);
        }
        if (piece.ToString().Trim() is { Length: > 0 } last)
        {
            yield return last;
        }
    }

    // tabs become spaces; other control characters (backspace overstrikes, bells) are dropped
    private static string Clean(string s)
    {
        var b = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c == '\t')
            {
                b.Append(' ');
            }
            else if (!char.IsControl(c))
            {
                b.Append(c);
            }
        }
        return b.ToString();
    }

    /// <summary>Exact duplicates removed (the first kept), so one text never lands in both splits.</summary>
    public static List<CorpusDocument> Deduplicate(IEnumerable<CorpusDocument> docs)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return docs.Where(d => seen.Add(d.Text)).ToList();
    }

    /// <summary>Held-out: documents whose FNV-1a hash of the text falls in the first <paramref name="percent"/> of 10,000 buckets. Order is kept.</summary>
    public static (List<CorpusDocument> Train, List<CorpusDocument> Heldout) Split(List<CorpusDocument> docs, double percent)
    {
        if (!(percent > 0 && percent < 50))
        {
            throw new ArgumentException($"--heldout-percent must be in (0, 50), got {percent}");
        }
        var train = new List<CorpusDocument>();
        var heldout = new List<CorpusDocument>();
        foreach (var d in docs)
        {
            (Hash(d.Text) % 10000 < percent * 100 ? heldout : train).Add(d);
        }
        return (train, heldout);
    }

    private static ulong Hash(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            h = (h ^ b) * 1099511628211UL;
        }
        return h;
    }
}
