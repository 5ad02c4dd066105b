// Renders conversations with a model's own chat template (chat_template.jinja, or tokenizer_config.json's
// chat_template string or named list), passing what transformers passes: messages, add_generation_prompt,
// bos_token/eos_token (and the other special-token names), tools. A built-in layout is used only when asked for.
// It does not tokenize; ChatTokenizer turns renderings into ids and the assistant mask.
using OnnxLora.Models.Chat.Jinja;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;

namespace OnnxLora.Models.Chat;

public sealed class ChatTemplateRenderer
{
    private readonly JinjaTemplate _template;
    private readonly Dictionary<string, object?> _tokens;

    /// <param name="template">Jinja source.</param>
    /// <param name="specialTokens">bos_token, eos_token, ... as the template sees them (null entries are left undefined).</param>
    /// <param name="source">Where the template came from, for messages.</param>
    public ChatTemplateRenderer(string template, IReadOnlyDictionary<string, string?> specialTokens, string source)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(specialTokens);
        Source = source;
        try
        {
            _template = JinjaTemplate.Parse(template);
        }
        catch (JinjaException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        _tokens = specialTokens.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal);
    }

    /// <summary>Where the template came from, e.g. "tokenizer_config.json chat_template" or "built-in layout chatml".</summary>
    public string Source { get; }

    /// <summary>Whether the template marks assistant output with {% generation %} blocks.</summary>
    public bool HasGenerationBlocks => _template.HasGenerationBlocks;

    /// <summary>Extra variables passed to every rendering (e.g. enable_thinking); empty by default.</summary>
    public IDictionary<string, object?> Variables { get; } = new Dictionary<string, object?>(StringComparer.Ordinal);

    /// <summary>
    /// The template of the model in <paramref name="modelDir"/>. <paramref name="choice"/> may name one of the model's
    /// named templates, a built-in layout (<see cref="BuiltinChatTemplates.Names"/>) or a .jinja file; without it the
    /// model's own (default) template is used, and a model without one is an error that says what to pass.
    /// </summary>
    public static ChatTemplateRenderer ForModel(string modelDir, string? choice = null)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        var settings = TokenizerSettings.Read(modelDir);
        var tokens = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["bos_token"] = settings.BosToken,
            ["eos_token"] = settings.EosToken,
            ["pad_token"] = settings.PadToken,
            ["unk_token"] = settings.UnkToken,
        };
        if (!string.IsNullOrWhiteSpace(choice))
        {
            string name = choice.Trim();
            if (settings.NamedChatTemplates.TryGetValue(name, out var named))
            {
                return new ChatTemplateRenderer(named, tokens, $"tokenizer_config.json chat_template '{name}'");
            }
            if (BuiltinChatTemplates.Get(name) is { } builtin)
            {
                return new ChatTemplateRenderer(builtin, tokens, $"built-in layout {name.ToLowerInvariant()}");
            }
            if (name.EndsWith(".jinja", StringComparison.OrdinalIgnoreCase))
            {
                return File.Exists(name)
                    ? new ChatTemplateRenderer(File.ReadAllText(name), tokens, name)
                    : throw new FileNotFoundException($"{name}: chat template file not found", name);
            }
            string namedList = settings.NamedChatTemplates.Count > 0 ? $"the model's {string.Join(", ", settings.NamedChatTemplates.Keys)}, " : "";
            throw new BadInputException(
                $"chat_template: unknown template '{choice}' (expected {namedList}{string.Join(", ", BuiltinChatTemplates.Names)} or a .jinja file)");
        }
        if (settings.ChatTemplate is { } own)
        {
            return new ChatTemplateRenderer(own, tokens, Path.Combine(modelDir, settings.ChatTemplateSource ?? "chat_template"));
        }
        throw new BadInputException(
            $"{modelDir}: the model has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json); " +
            $"pass --chat-template ({string.Join(", ", BuiltinChatTemplates.Names)} or a .jinja file)");
    }

    /// <summary>The conversation as the template renders it, with {% generation %} ranges when the template has them.</summary>
    public JinjaRendering Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyList<object?>? tools = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var vars = new Dictionary<string, object?>(_tokens, StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)m.ToTemplateValue()).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (tools is not null)
        {
            vars["tools"] = tools;
        }
        foreach (var kv in Variables)
        {
            vars[kv.Key] = kv.Value;
        }
        return _template.RenderWithSpans(vars);
    }

    /// <summary>Just the text of <see cref="Render"/>.</summary>
    public string RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        Render(messages, addGenerationPrompt).Text;
}
