// The project's tokenizer: loads a model folder's tokenizer files as transformers' fast tokenizer would and applies
// BOS/EOS/PAD rules from the HF config files. tokenizer.json is preferred, as transformers prefers it, and run by
// HfBpeTokenizer (SentencePiece-style and byte-level BPE, HF's exact merge order, byte fallback, ignore_merges).
// A folder with only tokenizer.model uses Microsoft.ML.Tokenizers' LlamaTokenizer, whose known deviation is that it
// breaks ties between equal-score merges right-first, so a run of three identical symbols ("▁▁▁", "---") splits as
// [x, xx] where SentencePiece gives [xx, x] (measured in docs/chat-data.md). Added/special tokens written in a text
// always become their ids.
using Microsoft.ML.Tokenizers;
using OnnxLora.Onnx;

namespace OnnxLora.Models.Tokenization;

public sealed class TextTokenizer
{
    private readonly Tokenizer? _tokenizer;
    private readonly HfBpeTokenizer? _hfBpe;
    private readonly bool _addBos;
    private readonly bool _addEos;
    private readonly bool _addPrefixSpace;
    private readonly HashSet<int> _specialIds;

    private TextTokenizer(
        object tokenizer, string kind, int vocabSize, int? bosId, int? eosId, int? padId,
        bool addBos, bool addEos, bool addPrefixSpace, HashSet<int> specialIds, string? chatTemplate)
    {
        _tokenizer = tokenizer as Tokenizer;
        _hfBpe = tokenizer as HfBpeTokenizer;
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

    /// <summary>"sentencepiece" (tokenizer.model), "sentencepiece-bpe" (byte-fallback tokenizer.json) or "bytelevel-bpe".</summary>
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

        string modelType = "";
        if (File.Exists(hfJson) && IsBpeJson(hfJson, out modelType))
        {
            return LoadHfBpe(hfJson, settings);
        }
        if (File.Exists(spModel))
        {
            return LoadSentencePiece(spModel, hfJson, settings);
        }
        if (File.Exists(hfJson))
        {
            throw new BadInputException($"{hfJson}: only BPE tokenizer.json is supported (model.type={modelType})");
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
        IReadOnlyList<int> body = _hfBpe is not null ? _hfBpe.Encode(text)
            : _tokenizer is SentencePieceTokenizer sp ? sp.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false)
            : _tokenizer!.EncodeToIds(text);

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
        string text = _hfBpe is not null ? _hfBpe.Decode(kept, null)
            : _tokenizer is SentencePieceTokenizer sp ? sp.Decode(kept, considerSpecialTokens: !skipSpecialTokens)
            : _tokenizer!.Decode(kept);
        return _addPrefixSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    private static bool IsBpeJson(string path, out string modelType)
    {
        using var stream = File.OpenRead(path);
        using var doc = System.Text.Json.JsonDocument.Parse(stream);
        modelType = doc.RootElement.TryGetProperty("model", out var m) && m.TryGetProperty("type", out var t) ? t.GetString() ?? "?" : "?";
        return HfBpeTokenizer.Handles(doc.RootElement);
    }

    private static TextTokenizer LoadHfBpe(string path, TokenizerSettings settings)
    {
        var bpe = HfBpeTokenizer.Load(path);
        var vocab = bpe.Vocabulary;
        int? bos = Resolve(settings.BosToken, vocab) ?? settings.BosIdFallback;
        int? eos = Resolve(settings.EosToken, vocab) ?? settings.EosIdFallback;
        int? pad = Resolve(settings.PadToken, vocab) ?? settings.PadIdFallback;
        // LlamaTokenizer(Fast)/GemmaTokenizer default to add_bos_token=true; byte-level (GPT-2 family) ones to false.
        bool addBos = settings.AddBos ?? bpe.Kind == "sentencepiece-bpe";
        bool addEos = settings.AddEos ?? false;
        var special = new HashSet<int>(bpe.SpecialIds);
        AddIfPresent(special, bos, eos, pad);
        return new TextTokenizer(bpe, bpe.Kind, vocab.Values.Max() + 1, bos, eos, pad, addBos, addEos,
            bpe.AddPrefixSpace, special, settings.ChatTemplate);
    }

    private static TextTokenizer LoadSentencePiece(string path, string hfJson, TokenizerSettings settings)
    {
        bool addBos = settings.AddBos ?? true; // LlamaTokenizer (slow and fast) defaults to add_bos_token=true.
        bool addEos = settings.AddEos ?? false;
        SentencePieceTokenizer sp;
        using (var stream = File.OpenRead(path))
        {
            // Added tokens (tokenizer.json's, if present beside it) are matched in the text as whole units.
            sp = LlamaTokenizer.Create(stream, addBos, addEos, AddedTokens(hfJson));
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

    private static Dictionary<string, int>? AddedTokens(string hfJson)
    {
        if (!File.Exists(hfJson))
        {
            return null;
        }
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(hfJson));
        var tokens = AddedTokenMatcher.Read(doc.RootElement).Tokens;
        return tokens.Count == 0 ? null : tokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
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
