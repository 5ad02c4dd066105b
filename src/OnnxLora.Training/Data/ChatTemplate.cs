// A small, real chat-template renderer: a few fixed layouts (chatml, llama2, llama3, zephyr, plain) rather than
// Jinja. A model's Jinja chat_template is recognised by its markers; anything else needs --chat-template <name>.
// Layouts (R = role, C = content, EOT = end-of-turn marker, becoming EOS when it is the EOS token's text):
//   zephyr: "<|R|>\nC</s>\n"  chatml: "<|im_start|>R\nC<|im_end|>\n"  llama3: "<|start_header_id|>R<|end_header_id|>\n\nC<|eot_id|>"
//   llama2: "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST] A </s>"   plain: "### User\nC\n\n### Assistant\nC</s>\n\n"
using System.Text.RegularExpressions;

namespace OnnxLora.Training.Data;

public sealed partial class ChatTemplate
{
    public static readonly IReadOnlyList<string> Names = ["chatml", "llama2", "llama3", "zephyr", "plain"];

    private ChatTemplate(string name) => Name = name;

    public string Name { get; }

    /// <summary>A template by its name (chatml, llama2, llama3, zephyr, plain).</summary>
    public static ChatTemplate FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant();
        if (!Names.Contains(key))
        {
            throw new ArgumentException($"chat_template: unknown template '{name}' (expected {string.Join(", ", Names)})");
        }
        return new ChatTemplate(key);
    }

    /// <summary>The explicit <paramref name="option"/> if given, else the layout recognised in the model's Jinja template.</summary>
    public static ChatTemplate Resolve(string? option, string? modelTemplate)
    {
        if (!string.IsNullOrWhiteSpace(option))
        {
            return FromName(option);
        }
        if (string.IsNullOrWhiteSpace(modelTemplate))
        {
            throw new InvalidOperationException(
                $"model has no chat_template; pass --chat-template ({string.Join(", ", Names)})");
        }
        return Recognise(modelTemplate) ?? throw new InvalidOperationException(
            $"model's chat_template is not a layout we recognise; pass --chat-template ({string.Join(", ", Names)})");
    }

    /// <summary>The layout a Jinja chat template renders, or null when it is none we know.</summary>
    public static ChatTemplate? Recognise(string jinja)
    {
        ArgumentNullException.ThrowIfNull(jinja);
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            return new ChatTemplate("chatml");
        }
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal))
        {
            return new ChatTemplate("llama3");
        }
        if (jinja.Contains("[INST]", StringComparison.Ordinal))
        {
            return new ChatTemplate("llama2");
        }
        if (jinja.Contains("<|user|>", StringComparison.Ordinal) || ZephyrRoleHeader().IsMatch(jinja))
        {
            return new ChatTemplate("zephyr");
        }
        return null;
    }

    /// <summary>
    /// The conversation as segments. With <paramref name="addGenerationPrompt"/>, ends with the header that
    /// opens an assistant turn (for inference). BOS is not included except where the layout repeats it per
    /// turn (llama2); the caller adds the leading BOS when the tokenizer does.
    /// </summary>
    public IReadOnlyList<ChatSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var s = new List<ChatSegment>();
        if (Name == "llama2")
        {
            RenderLlama2(messages, s);
            return s;
        }
        foreach (ChatMessage m in messages)
        {
            bool train = m.Role == "assistant";
            switch (Name)
            {
                case "zephyr":
                    s.Add(Text($"<|{m.Role}|>\n"));
                    s.Add(Text(m.Content, train));
                    s.Add(new ChatSegment("", ChatSegmentKind.Eos, train));
                    s.Add(Text("\n"));
                    break;
                case "chatml":
                    s.Add(Text($"<|im_start|>{m.Role}\n"));
                    s.Add(Text(m.Content, train));
                    s.Add(new ChatSegment("<|im_end|>", ChatSegmentKind.EndOfTurn, train));
                    s.Add(Text("\n"));
                    break;
                case "llama3":
                    s.Add(Text($"<|start_header_id|>{m.Role}<|end_header_id|>\n\n"));
                    s.Add(Text(m.Content, train));
                    s.Add(new ChatSegment("<|eot_id|>", ChatSegmentKind.EndOfTurn, train));
                    break;
                default: // plain
                    s.Add(Text($"### {Capitalise(m.Role)}\n"));
                    s.Add(Text(m.Content, train));
                    if (train)
                    {
                        s.Add(new ChatSegment("", ChatSegmentKind.Eos, true));
                    }
                    s.Add(Text("\n\n"));
                    break;
            }
        }
        if (addGenerationPrompt)
        {
            s.Add(Text(Name switch
            {
                "zephyr" => "<|assistant|>\n",
                "chatml" => "<|im_start|>assistant\n",
                "llama3" => "<|start_header_id|>assistant<|end_header_id|>\n\n",
                _ => "### Assistant\n",
            }));
        }
        return s.Where(x => x.Kind != ChatSegmentKind.Text || x.Text.Length > 0).ToList();
    }

    private static void RenderLlama2(IReadOnlyList<ChatMessage> messages, List<ChatSegment> s)
    {
        string? system = null;
        foreach (ChatMessage m in messages)
        {
            switch (m.Role)
            {
                case "system":
                    system = m.Content.Trim();
                    break;
                case "user":
                    s.Add(new ChatSegment("", ChatSegmentKind.Bos, false));
                    string sys = system is null ? "" : $"<<SYS>>\n{system}\n<</SYS>>\n\n";
                    system = null;
                    s.Add(Text($"[INST] {sys}{m.Content.Trim()} [/INST]"));
                    break;
                default: // assistant
                    s.Add(Text($" {m.Content.Trim()} ", true));
                    s.Add(new ChatSegment("", ChatSegmentKind.Eos, true));
                    break;
            }
        }
    }

    private static ChatSegment Text(string text, bool trainable = false) => new(text, ChatSegmentKind.Text, trainable);

    private static string Capitalise(string role) => char.ToUpperInvariant(role[0]) + role[1..];

    // "<|{{ message['role'] }}|>" or "'<|' + message['role'] + '|>'", as zephyr-style templates write the header.
    [GeneratedRegex("""<\|\s*(\{\{\s*message\[['"]role['"]\]\s*\}\}|'\s*\+\s*message\[['"]role['"]\]\s*\+\s*')\s*\|>""")]
    private static partial Regex ZephyrRoleHeader();
}
