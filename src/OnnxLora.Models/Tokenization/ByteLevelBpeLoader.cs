// Reads a Hugging Face tokenizer.json whose model is a byte-level BPE (GPT-2, Llama 3, SmolLM, Qwen)
// and builds a Microsoft.ML.Tokenizers BpeTokenizer from its vocab, merges, added tokens and split regex.
// It does not encode anything itself, and rejects other tokenizer.json kinds (WordPiece, Metaspace BPE, ...).
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace OnnxLora.Models.Tokenization;

internal static class ByteLevelBpeLoader
{
    internal sealed record Result(
        BpeTokenizer Tokenizer,
        IReadOnlyDictionary<string, int> Vocabulary,
        IReadOnlySet<int> SpecialIds,
        bool AddPrefixSpace,
        bool Nfc);

    public static Result Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() ?? "?" : "?";
        var pre = root.TryGetProperty("pre_tokenizer", out var p) ? p : default;
        var dec = root.TryGetProperty("decoder", out var d) ? d : default;

        bool byteLevel = HasType(pre, "ByteLevel") || HasType(dec, "ByteLevel");
        if (modelType != "BPE" || !byteLevel)
        {
            throw new NotSupportedException(
                $"{path}: only byte-level BPE tokenizer.json is supported (model.type={modelType}, " +
                $"pre_tokenizer={TypeOf(pre)}, decoder={TypeOf(dec)}).");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }

        // Merges are "a b" strings (older files) or ["a", "b"] pairs (newer files). Byte-level symbols
        // never contain a space, so both forms become the "a b" string the library expects.
        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var m))
        {
            foreach (var merge in m.EnumerateArray())
            {
                merges.Add(merge.ValueKind == JsonValueKind.Array
                    ? $"{merge[0].GetString()} {merge[1].GetString()}"
                    : merge.GetString()!);
            }
        }

        // Added tokens are matched as whole units in the input, as HF does by default.
        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        var specialIds = new HashSet<int>();
        if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
        {
            foreach (var tok in at.EnumerateArray())
            {
                string content = tok.GetProperty("content").GetString()!;
                int id = tok.GetProperty("id").GetInt32();
                added[content] = id;
                vocab.TryAdd(content, id);
                if (tok.TryGetProperty("special", out var sp) && sp.ValueKind == JsonValueKind.True)
                {
                    specialIds.Add(id);
                }
            }
        }

        string pattern = FindSplitRegex(pre) ?? ByteLevelAlphabet.Gpt2Pattern;
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = added.Count > 0 ? added : null,
            PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), added.Count > 0 ? added : null),
            ByteLevel = true,
        };
        // Qwen2/3 normalize with NFC before splitting; other normalizers are not expected in byte-level files.
        string normalizer = root.TryGetProperty("normalizer", out var nz) ? TypeOf(nz) : "null";
        if (normalizer is not ("null" or "NFC"))
        {
            throw new NotSupportedException($"{path}: normalizer '{normalizer}' is not supported for byte-level BPE");
        }
        return new Result(BpeTokenizer.Create(options), vocab, specialIds, FindAddPrefixSpace(pre), normalizer == "NFC");
    }

    private static string TypeOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) ? t.GetString() ?? "?" : "null";

    // True when e is of the given type, or is a Sequence containing one.
    private static bool HasType(JsonElement e, string type)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (TypeOf(e) == type)
        {
            return true;
        }
        foreach (string listName in new[] { "pretokenizers", "decoders" })
        {
            if (e.TryGetProperty(listName, out var list) && list.ValueKind == JsonValueKind.Array
                && list.EnumerateArray().Any(x => HasType(x, type)))
            {
                return true;
            }
        }
        return false;
    }

    // Llama 3 / Qwen write Sequence[Split{pattern: {Regex: ...}}, ByteLevel{use_regex: false}].
    private static string? FindSplitRegex(JsonElement pre)
    {
        if (pre.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        if (TypeOf(pre) == "Split" && pre.TryGetProperty("pattern", out var pat)
            && pat.ValueKind == JsonValueKind.Object && pat.TryGetProperty("Regex", out var rx))
        {
            return rx.GetString();
        }
        if (pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
            {
                if (FindSplitRegex(item) is { } found)
                {
                    return found;
                }
            }
        }
        return null;
    }

    private static bool FindAddPrefixSpace(JsonElement pre)
    {
        if (pre.ValueKind != JsonValueKind.Object)
        {
            return false;
        }
        if (TypeOf(pre) == "ByteLevel")
        {
            return pre.TryGetProperty("add_prefix_space", out var a) && a.ValueKind == JsonValueKind.True;
        }
        return pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array
            && list.EnumerateArray().Any(FindAddPrefixSpace);
    }
}
