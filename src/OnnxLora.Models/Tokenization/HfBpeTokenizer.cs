// The BPE model of a Hugging Face tokenizer.json, as HF tokenizers runs it: SentencePiece-style files (Llama 2,
// Mistral, Gemma: "▁" for spaces, <0xNN> byte fallback) and byte-level files (Llama 3, Qwen, GPT-2: bytes mapped
// to the GPT-2 alphabet). Merges apply lowest rank first and, among equal ranks, leftmost first; ignore_merges
// takes a whole pre-token that is in the vocabulary as one token. Written here because Microsoft.ML.Tokenizers
// 2.0.1's BpeTokenizer has neither byte fallback nor ignore_merges (measured: tools/tokenizer-agreement).
// Pipeline: split off added tokens → normalizer (Prepend, Replace, NFC/NFKC) → pre-tokenizer (Metaspace, Split,
// ByteLevel) → BPE per word. Anything else in the file is rejected by name rather than approximated.
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OnnxLora.Onnx;

namespace OnnxLora.Models.Tokenization;

internal sealed class HfBpeTokenizer
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly Dictionary<(int, int), (int Rank, int NewId)> _merges;
    private readonly int[] _byteIds;
    private readonly int? _unkId;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly AddedTokenMatcher _added;
    private readonly List<Func<string, string>> _normalizers = [];
    private readonly Func<string, bool, List<string>> _preTokenize; // (piece, piece starts the text)
    private readonly bool _decodeStripsLeadingSpace;
    private readonly bool _byteLevel;
    private readonly HashSet<int> _addedIds;

    private HfBpeTokenizer(string path, JsonElement root)
    {
        var model = root.GetProperty("model");
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in model.GetProperty("vocab").EnumerateObject())
        {
            _vocab[e.Name] = e.Value.GetInt32();
        }
        _added = AddedTokenMatcher.Read(root);
        _addedIds = _added.Tokens.Select(t => t.Id).ToHashSet();
        _byteLevel = HasType(root, "pre_tokenizer", "ByteLevel") || HasType(root, "decoder", "ByteLevel");
        AddPrefixSpace = _byteLevel && FindFlag(root.TryGetProperty("pre_tokenizer", out var pt) ? pt : default, "ByteLevel", "add_prefix_space");
        foreach (var (content, id) in _added.Tokens)
        {
            _vocab.TryAdd(content, id);
        }
        int size = _vocab.Values.Max() + 1;
        _idToToken = new string[size];
        foreach (var (token, id) in _vocab)
        {
            _idToToken[id] ??= token;
        }

        _merges = new Dictionary<(int, int), (int, int)>();
        if (model.TryGetProperty("merges", out var merges))
        {
            int rank = 0;
            foreach (var m in merges.EnumerateArray())
            {
                string a, b;
                if (m.ValueKind == JsonValueKind.Array)
                {
                    a = m[0].GetString()!;
                    b = m[1].GetString()!;
                }
                else
                {
                    string s = m.GetString()!;
                    int sp = s.IndexOf(' ', StringComparison.Ordinal);
                    a = s[..sp];
                    b = s[(sp + 1)..];
                }
                if (_vocab.TryGetValue(a, out int ia) && _vocab.TryGetValue(b, out int ib) && _vocab.TryGetValue(a + b, out int merged))
                {
                    _merges.TryAdd((ia, ib), (rank, merged));
                }
                rank++;
            }
        }

        _byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = _vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
        string? unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        _unkId = unk is not null && _vocab.TryGetValue(unk, out int unkId) ? unkId : null;
        _fuseUnk = model.TryGetProperty("fuse_unk", out var f) && f.ValueKind == JsonValueKind.True;
        _ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;

        if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object)
        {
            AddNormalizer(path, norm);
        }
        _preTokenize = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
            ? PreTokenizer(path, pre)
            : (s, _) => [s];
        _decodeStripsLeadingSpace = DecoderStripsLeadingSpace(root);
    }

    public IReadOnlyDictionary<string, int> Vocabulary => _vocab;

    public IReadOnlySet<int> SpecialIds => _added.SpecialIds;

    /// <summary>Whether a byte-level pre-tokenizer asks for a space before the text (add_prefix_space).</summary>
    public bool AddPrefixSpace { get; }

    /// <summary>"bytelevel-bpe" or "sentencepiece-bpe".</summary>
    public string Kind => _byteLevel ? "bytelevel-bpe" : "sentencepiece-bpe";

    /// <summary>Whether <paramref name="root"/> (a tokenizer.json) has a BPE model.</summary>
    public static bool Handles(JsonElement root) =>
        root.TryGetProperty("model", out var m) && m.TryGetProperty("type", out var t) && t.GetString() == "BPE";

    private static bool FindFlag(JsonElement e, string type, string flag)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (e.TryGetProperty("type", out var t) && t.GetString() == type)
        {
            return e.TryGetProperty(flag, out var f) && f.ValueKind == JsonValueKind.True;
        }
        return e.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
            && list.EnumerateArray().Any(x => FindFlag(x, type, flag));
    }

    // True when root[section] is of the given type, or a Sequence containing one.
    private static bool HasType(JsonElement root, string section, string type)
    {
        static bool Has(JsonElement e, string type) => e.ValueKind == JsonValueKind.Object
            && ((e.TryGetProperty("type", out var t) && t.GetString() == type)
                || new[] { "pretokenizers", "decoders" }.Any(list => e.TryGetProperty(list, out var l)
                    && l.ValueKind == JsonValueKind.Array && l.EnumerateArray().Any(x => Has(x, type))));
        return root.TryGetProperty(section, out var s) && Has(s, type);
    }

    public static HfBpeTokenizer Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return new HfBpeTokenizer(path, doc.RootElement);
    }

    /// <summary>Ids for <paramref name="text"/>; added tokens written in the text become their ids. Adds nothing else.</summary>
    public List<int> Encode(string text)
    {
        var ids = new List<int>();
        bool atStart = true;
        foreach (var (piece, addedId) in _added.Split(text))
        {
            bool first = atStart;
            atStart = false;
            if (addedId is { } id)
            {
                ids.Add(id);
                continue;
            }
            string normalized = piece;
            foreach (var n in _normalizers)
            {
                normalized = n(normalized);
            }
            foreach (string word in _preTokenize(normalized, first))
            {
                EncodeWord(word, ids);
            }
        }
        return ids;
    }

    public string Decode(IEnumerable<int> ids, IReadOnlySet<int>? skip)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (skip is not null && skip.Contains(id))
            {
                continue;
            }
            string token = id >= 0 && id < _idToToken.Length ? _idToToken[id] ?? "" : "";
            if (_byteLevel)
            {
                if (_addedIds.Contains(id))
                {
                    bytes.AddRange(Encoding.UTF8.GetBytes(token));
                    continue;
                }
                foreach (char ch in token)
                {
                    if (ByteLevelAlphabet.TryByteFor(ch, out byte raw))
                    {
                        bytes.Add(raw);
                    }
                    else
                    {
                        bytes.AddRange(Encoding.UTF8.GetBytes(ch.ToString()));
                    }
                }
                continue;
            }
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b))
            {
                bytes.Add(b);
                continue;
            }
            bytes.AddRange(Encoding.UTF8.GetBytes(token.Replace('▁', ' ')));
        }
        string text = Encoding.UTF8.GetString(bytes.ToArray());
        return !_byteLevel && _decodeStripsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    private void EncodeWord(string word, List<int> ids)
    {
        if (word.Length == 0)
        {
            return;
        }
        if (_byteLevel)
        {
            word = ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(word));
        }
        if (_ignoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }
        // Symbols: one per code point (its id), or its UTF-8 bytes as <0xNN> when the vocabulary lacks it.
        var symbols = new List<int>(word.Length);
        bool lastWasUnk = false;
        for (int i = 0; i < word.Length; i += char.IsSurrogatePair(word, i) ? 2 : 1)
        {
            string ch = char.IsSurrogatePair(word, i) ? word.Substring(i, 2) : word[i].ToString();
            if (_vocab.TryGetValue(ch, out int id))
            {
                symbols.Add(id);
                lastWasUnk = false;
                continue;
            }
            byte[] utf8 = Encoding.UTF8.GetBytes(ch);
            if (utf8.All(x => _byteIds[x] >= 0))
            {
                symbols.AddRange(utf8.Select(x => _byteIds[x]));
                lastWasUnk = false;
                continue;
            }
            if (_unkId is not { } unk)
            {
                throw new InvalidDataException($"character U+{char.ConvertToUtf32(ch, 0):X4} is not in the vocabulary and the tokenizer has no unk_token");
            }
            if (!(_fuseUnk && lastWasUnk))
            {
                symbols.Add(unk);
            }
            lastWasUnk = true;
        }
        ApplyMerges(symbols);
        ids.AddRange(symbols);
    }

    // HF's BPE word merge: a queue of candidate pairs by (rank, position); stale entries are skipped when popped.
    private void ApplyMerges(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2)
        {
            return;
        }
        var id = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        var queue = new PriorityQueue<(int Pos, int Left, int Right), (int Rank, int Pos)>();
        void Push(int pos)
        {
            int r = next[pos];
            if (r >= 0 && _merges.TryGetValue((id[pos], id[r]), out var m))
            {
                queue.Enqueue((pos, id[pos], id[r]), (m.Rank, pos));
            }
        }
        for (int i = 0; i + 1 < n; i++)
        {
            Push(i);
        }
        while (queue.TryDequeue(out var c, out _))
        {
            int r = next[c.Pos];
            if (!alive[c.Pos] || r < 0 || id[c.Pos] != c.Left || id[r] != c.Right)
            {
                continue;
            }
            id[c.Pos] = _merges[(c.Left, c.Right)].NewId;
            alive[r] = false;
            next[c.Pos] = next[r];
            if (next[r] >= 0)
            {
                prev[next[r]] = c.Pos;
            }
            if (prev[c.Pos] >= 0)
            {
                Push(prev[c.Pos]);
            }
            Push(c.Pos);
        }
        symbols.Clear();
        for (int i = 0; i >= 0; i = next[i])
        {
            symbols.Add(id[i]);
        }
    }

    private void AddNormalizer(string path, JsonElement n)
    {
        string type = n.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var item in n.GetProperty("normalizers").EnumerateArray())
                {
                    AddNormalizer(path, item);
                }
                break;
            case "Prepend":
            {
                string prepend = n.GetProperty("prepend").GetString()!;
                _normalizers.Add(s => s.Length == 0 ? s : prepend + s);
                break;
            }
            case "Replace":
            {
                if (!n.GetProperty("pattern").TryGetProperty("String", out var pat))
                {
                    throw new BadInputException($"{path}: Replace normalizer with a regex pattern is not supported");
                }
                string from = pat.GetString()!, to = n.GetProperty("content").GetString()!;
                _normalizers.Add(s => s.Replace(from, to, StringComparison.Ordinal));
                break;
            }
            case "NFC":
                _normalizers.Add(s => s.Normalize(NormalizationForm.FormC));
                break;
            case "NFKC":
                _normalizers.Add(s => s.Normalize(NormalizationForm.FormKC));
                break;
            default:
                throw new BadInputException($"{path}: normalizer '{type}' is not supported");
        }
    }

    private static Func<string, bool, List<string>> PreTokenizer(string path, JsonElement p)
    {
        string type = p.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
            {
                var steps = p.GetProperty("pretokenizers").EnumerateArray().Select(x => PreTokenizer(path, x)).ToList();
                return (s, atStart) =>
                {
                    var words = new List<string> { s };
                    foreach (var step in steps)
                    {
                        words = words.SelectMany((w, i) => step(w, atStart && i == 0)).ToList();
                    }
                    return words;
                };
            }
            case "Metaspace":
            {
                string replacement = p.TryGetProperty("replacement", out var r) ? r.GetString()! : "▁";
                string scheme = p.TryGetProperty("prepend_scheme", out var ps) ? ps.GetString()!
                    : p.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.False ? "never" : "always";
                bool split = !p.TryGetProperty("split", out var sp) || sp.ValueKind != JsonValueKind.False;
                return (s, atStart) =>
                {
                    s = s.Replace(" ", replacement, StringComparison.Ordinal);
                    // HF prepends only when the piece does not already start with the replacement; "first" only at the text's start.
                    bool prepend = scheme == "always" || (scheme == "first" && atStart);
                    if (prepend && s.Length > 0 && !s.StartsWith(replacement, StringComparison.Ordinal))
                    {
                        s = replacement + s;
                    }
                    return split ? SplitBefore(s, replacement) : [s];
                };
            }
            case "Split":
            {
                string behavior = p.GetProperty("behavior").GetString() ?? "";
                if (p.TryGetProperty("invert", out var inv) && inv.ValueKind == JsonValueKind.True)
                {
                    throw new BadInputException($"{path}: Split pre-tokenizer with invert=true is not supported");
                }
                var pattern = p.GetProperty("pattern");
                if (pattern.TryGetProperty("Regex", out var rx))
                {
                    var regex = new Regex(rx.GetString()!, RegexOptions.Compiled);
                    return (s, _) => SplitOnRegex(s, regex, behavior, path);
                }
                string sep = pattern.GetProperty("String").GetString()!;
                return (s, _) => SplitOn(s, sep, behavior, path);
            }
            case "ByteLevel":
            {
                // Bytes are mapped to the GPT-2 alphabet per word in EncodeWord; here only the optional GPT-2 split.
                bool useRegex = !p.TryGetProperty("use_regex", out var ur) || ur.ValueKind != JsonValueKind.False;
                var gpt2 = new Regex(ByteLevelAlphabet.Gpt2Pattern, RegexOptions.Compiled);
                return (s, _) => useRegex ? SplitOnRegex(s, gpt2, "Isolated", path) : [s];
            }
            default:
                throw new BadInputException($"{path}: pre-tokenizer '{type}' is not supported for byte-fallback BPE");
        }
    }

    private static List<string> SplitOnRegex(string s, Regex regex, string behavior, string path)
    {
        var words = new List<string>();
        int last = 0;
        foreach (Match m in regex.Matches(s))
        {
            if (m.Length == 0)
            {
                continue;
            }
            string gap = s[last..m.Index];
            switch (behavior)
            {
                case "Isolated":
                    words.Add(gap);
                    words.Add(m.Value);
                    break;
                case "Removed":
                    words.Add(gap);
                    break;
                case "MergedWithPrevious":
                    words.Add(gap + m.Value);
                    break;
                default:
                    throw new BadInputException($"{path}: Split behavior '{behavior}' is not supported with a regex");
            }
            last = m.Index + m.Length;
        }
        words.Add(s[last..]);
        return words.Where(w => w.Length > 0).ToList();
    }

    // Metaspace split: each word starts at a replacement character.
    private static List<string> SplitBefore(string s, string marker)
    {
        var words = new List<string>();
        int start = 0;
        for (int i = s.IndexOf(marker, 1, StringComparison.Ordinal); i > 0; i = s.IndexOf(marker, i + 1, StringComparison.Ordinal))
        {
            words.Add(s[start..i]);
            start = i;
        }
        words.Add(s[start..]);
        return words.Where(w => w.Length > 0).ToList();
    }

    private static List<string> SplitOn(string s, string sep, string behavior, string path)
    {
        var words = new List<string>();
        int start = 0;
        for (int i = s.IndexOf(sep, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sep, i + sep.Length, StringComparison.Ordinal))
        {
            switch (behavior)
            {
                case "MergedWithPrevious":
                    words.Add(s[start..(i + sep.Length)]);
                    start = i + sep.Length;
                    break;
                case "MergedWithNext":
                    words.Add(s[start..i]);
                    start = i;
                    break;
                case "Isolated":
                    words.Add(s[start..i]);
                    words.Add(sep);
                    start = i + sep.Length;
                    break;
                case "Removed":
                    words.Add(s[start..i]);
                    start = i + sep.Length;
                    break;
                default:
                    throw new BadInputException($"{path}: Split behavior '{behavior}' is not supported");
            }
        }
        words.Add(s[start..]);
        return words.Where(w => w.Length > 0).ToList();
    }

    // Llama 2's decoder ends with Strip(start=1): the space its Prepend normalizer added is removed.
    private static bool DecoderStripsLeadingSpace(JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var d) || d.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        IEnumerable<JsonElement> parts = d.TryGetProperty("decoders", out var list) ? list.EnumerateArray() : [d];
        return parts.Any(x => (x.GetProperty("type").GetString() == "Strip" && x.TryGetProperty("start", out var st) && st.GetInt32() > 0)
            || (x.GetProperty("type").GetString() == "Metaspace"
                && (!x.TryGetProperty("prepend_scheme", out var ps) || ps.GetString() != "never")));
    }
}
