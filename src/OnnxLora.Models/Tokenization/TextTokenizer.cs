// The project's tokenizer: loads a model folder's tokenizer.model (SentencePiece, via LlamaTokenizer) or
// byte-level BPE tokenizer.json (via BpeTokenizer) and applies BOS/EOS/PAD rules from the HF config files.
// All encoding and decoding is done by Microsoft.ML.Tokenizers; this class only chooses, configures and wraps.
// Known deviation (SentencePiece path): the library breaks ties between equal-score merges right-first, so a
// run of three identical symbols ("▁▁▁", "---") splits as [x, xx] where SentencePiece gives [xx, x].
using Microsoft.ML.Tokenizers;

namespace OnnxLora.Models.Tokenization;

public sealed class TextTokenizer
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _addBos;
    private readonly bool _addEos;
    private readonly bool _addPrefixSpace;
    private readonly HashSet<int> _specialIds;

    private TextTokenizer(
        Tokenizer tokenizer, string kind, int vocabSize, int? bosId, int? eosId, int? padId,
        bool addBos, bool addEos, bool addPrefixSpace, HashSet<int> specialIds, string? chatTemplate)
    {
        _tokenizer = tokenizer;
        Kind = kind;
        VocabSize = vocabSize;
        BosId = bosId;
        EosId = eosId;
        PadId = padId;
        _addBos = addBos && bosId is not null;
        _addEos = addEos && eosId is not null;
        _addPrefixSpace = addPrefixSpace;
        _specialIds = specialIds;
        ChatTemplate = chatTemplate;
    }

    /// <summary>"sentencepiece" or "bytelevel-bpe": which file the tokenizer was built from.</summary>
    public string Kind { get; }
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }
    public string? ChatTemplate { get; }

    /// <summary>Whether <see cref="Encode"/> prepends BOS when asked to add special tokens.</summary>
    public bool AddsBos => _addBos;

    /// <summary>Whether <see cref="Encode"/> appends EOS when asked to add special tokens.</summary>
    public bool AddsEos => _addEos;

    public static TextTokenizer Load(string modelDir)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        var settings = TokenizerSettings.Read(modelDir);
        string spModel = Path.Combine(modelDir, "tokenizer.model");
        string hfJson = Path.Combine(modelDir, "tokenizer.json");

        if (File.Exists(spModel))
        {
            return LoadSentencePiece(spModel, settings);
        }
        if (File.Exists(hfJson))
        {
            return LoadByteLevelBpe(hfJson, settings);
        }
        throw new FileNotFoundException($"{modelDir}: no tokenizer.model or tokenizer.json");
    }

    /// <summary>Token ids for <paramref name="text"/>; with <paramref name="addSpecialTokens"/>, BOS/EOS as configured.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_addPrefixSpace && text.Length > 0 && text[0] != ' ')
        {
            text = " " + text;
        }
        IReadOnlyList<int> body = _tokenizer is SentencePieceTokenizer sp
            ? sp.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
            : _tokenizer.EncodeToIds(text);

        bool bos = addSpecialTokens && _addBos;
        bool eos = addSpecialTokens && _addEos;
        if (!bos && !eos)
        {
            return body;
        }
        var ids = new List<int>(body.Count + 2);
        if (bos)
        {
            ids.Add(BosId!.Value);
        }
        ids.AddRange(body);
        if (eos)
        {
            ids.Add(EosId!.Value);
        }
        return ids;
    }

    /// <summary>Text for <paramref name="ids"/>; with <paramref name="skipSpecialTokens"/>, BOS/EOS/PAD/special added tokens are dropped.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = skipSpecialTokens ? ids.Where(id => !_specialIds.Contains(id)).ToList() : ids.ToList();
        string text = _tokenizer switch
        {
            SentencePieceTokenizer sp => sp.Decode(kept, considerSpecialTokens: !skipSpecialTokens),
            BpeTokenizer bpe => bpe.Decode(kept, considerSpecialTokens: !skipSpecialTokens),
            _ => _tokenizer.Decode(kept),
        };
        return _addPrefixSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    private static TextTokenizer LoadSentencePiece(string path, TokenizerSettings settings)
    {
        bool addBos = settings.AddBos ?? true; // LlamaTokenizer (slow and fast) defaults to add_bos_token=true.
        bool addEos = settings.AddEos ?? false;
        SentencePieceTokenizer sp;
        using (var stream = File.OpenRead(path))
        {
            sp = LlamaTokenizer.Create(stream, addBos, addEos);
        }
        var vocab = sp.Vocabulary;
        int? bos = Resolve(settings.BosToken, vocab) ?? settings.BosIdFallback ?? sp.BeginningOfSentenceId;
        int? eos = Resolve(settings.EosToken, vocab) ?? settings.EosIdFallback ?? sp.EndOfSentenceId;
        int? pad = Resolve(settings.PadToken, vocab) ?? settings.PadIdFallback;
        var special = new HashSet<int> { sp.BeginningOfSentenceId, sp.EndOfSentenceId, sp.UnknownId };
        AddIfPresent(special, bos, eos, pad);
        if (sp.SpecialTokens is { } extra)
        {
            special.UnionWith(extra.Values);
        }
        int size = Math.Max(vocab.Count, vocab.Values.Max() + 1);
        return new TextTokenizer(sp, "sentencepiece", size, bos, eos, pad, addBos, addEos,
            addPrefixSpace: false, special, settings.ChatTemplate);
    }

    private static TextTokenizer LoadByteLevelBpe(string path, TokenizerSettings settings)
    {
        var loaded = ByteLevelBpeLoader.Load(path);
        var vocab = loaded.Vocabulary;
        int? bos = Resolve(settings.BosToken, vocab) ?? settings.BosIdFallback;
        int? eos = Resolve(settings.EosToken, vocab) ?? settings.EosIdFallback;
        int? pad = Resolve(settings.PadToken, vocab) ?? settings.PadIdFallback;
        // Byte-level BPE tokenizers (GPT-2 family) do not add BOS unless the config says so.
        bool addBos = settings.AddBos ?? false;
        bool addEos = settings.AddEos ?? false;
        var special = new HashSet<int>(loaded.SpecialIds);
        AddIfPresent(special, bos, eos, pad);
        int size = vocab.Values.Max() + 1;
        return new TextTokenizer(loaded.Tokenizer, "bytelevel-bpe", size, bos, eos, pad, addBos, addEos,
            loaded.AddPrefixSpace, special, settings.ChatTemplate);
    }

    private static int? Resolve(string? token, IReadOnlyDictionary<string, int> vocab) =>
        token is not null && vocab.TryGetValue(token, out int id) ? id : null;

    private static void AddIfPresent(HashSet<int> set, params int?[] ids)
    {
        foreach (int? id in ids)
        {
            if (id is { } v)
            {
                set.Add(v);
            }
        }
    }
}
