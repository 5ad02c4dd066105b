// Special-token settings of a Hugging Face model folder: BOS/EOS/PAD names and ids, add_bos/add_eos,
// and the chat template, read from tokenizer_config.json with config.json/generation_config.json as fallback.
// It does not tokenize; token names are resolved to ids by the caller's vocabulary lookup.
using System.Text.Json;

namespace OnnxLora.Models.Tokenization;

internal sealed class TokenizerSettings
{
    public bool? AddBos { get; private init; }
    public bool? AddEos { get; private init; }
    public string? BosToken { get; private init; }
    public string? EosToken { get; private init; }
    public string? PadToken { get; private init; }
    public string? UnkToken { get; private init; }
    public int? BosIdFallback { get; private init; }
    public int? EosIdFallback { get; private init; }
    public int? PadIdFallback { get; private init; }
    public string? ChatTemplate { get; private init; }

    /// <summary>Named templates when tokenizer_config.json's chat_template is a list of {name, template}; else empty.</summary>
    public IReadOnlyDictionary<string, string> NamedChatTemplates { get; private init; } = new Dictionary<string, string>();

    /// <summary>Where <see cref="ChatTemplate"/> came from, for messages ("chat_template.jinja", ...).</summary>
    public string? ChatTemplateSource { get; private init; }

    public static TokenizerSettings Read(string modelDir)
    {
        using var tokCfg = ParseIfExists(Path.Combine(modelDir, "tokenizer_config.json"));
        using var modelCfg = ParseIfExists(Path.Combine(modelDir, "config.json"));
        using var genCfg = ParseIfExists(Path.Combine(modelDir, "generation_config.json"));
        var t = tokCfg?.RootElement;

        // chat_template.jinja (newer transformers write the template there) wins over tokenizer_config.json's, as in transformers.
        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        string? template = t is { } tc ? ReadChatTemplate(tc, named) : null;
        string? source = template is null ? null : "tokenizer_config.json chat_template" + (named.Count > 0 ? " (default)" : "");
        string jinja = Path.Combine(modelDir, "chat_template.jinja");
        if (File.Exists(jinja))
        {
            template = File.ReadAllText(jinja);
            source = "chat_template.jinja";
        }

        return new TokenizerSettings
        {
            AddBos = t is { } a ? ReadBool(a, "add_bos_token") : null,
            AddEos = t is { } b ? ReadBool(b, "add_eos_token") : null,
            BosToken = t is { } c ? ReadTokenName(c, "bos_token") : null,
            EosToken = t is { } d ? ReadTokenName(d, "eos_token") : null,
            PadToken = t is { } e ? ReadTokenName(e, "pad_token") : null,
            UnkToken = t is { } u ? ReadTokenName(u, "unk_token") : null,
            BosIdFallback = FirstId(genCfg, modelCfg, "bos_token_id"),
            EosIdFallback = FirstId(genCfg, modelCfg, "eos_token_id"),
            PadIdFallback = FirstId(genCfg, modelCfg, "pad_token_id"),
            ChatTemplate = template,
            ChatTemplateSource = source,
            NamedChatTemplates = named,
        };
    }

    private static JsonDocument? ParseIfExists(string path) =>
        File.Exists(path) ? JsonDocument.Parse(File.ReadAllBytes(path)) : null;

    private static bool? ReadBool(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;

    // A token is written either as "<s>" or as {"content": "<s>", ...} (AddedToken form).
    private static string? ReadTokenName(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v))
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => null,
        };
    }

    // chat_template is a string, or a list of {name, template}; the "default" entry wins, else the first.
    private static string? ReadChatTemplate(JsonElement obj, Dictionary<string, string> named)
    {
        if (!obj.TryGetProperty("chat_template", out var v))
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.String)
        {
            return v.GetString();
        }
        if (v.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        string? first = null;
        foreach (var entry in v.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("template", out var tpl) || tpl.ValueKind != JsonValueKind.String)
            {
                continue;
            }
            first ??= tpl.GetString();
            if (entry.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String)
            {
                named[n.GetString()!] = tpl.GetString()!;
            }
        }
        return named.TryGetValue("default", out var d) ? d : first;
    }

    // generation_config.json wins over config.json; an id may be an int or a list of ints (first is used).
    private static int? FirstId(JsonDocument? preferred, JsonDocument? fallback, string name)
    {
        foreach (var doc in new[] { preferred, fallback })
        {
            if (doc is null || doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty(name, out var v))
            {
                continue;
            }
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int id))
            {
                return id;
            }
            if (v.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in v.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int first))
                    {
                        return first;
                    }
                }
            }
        }
        return null;
    }
}
