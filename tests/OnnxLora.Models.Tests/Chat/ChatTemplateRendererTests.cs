// Which template a model folder gives (chat_template.jinja, tokenizer_config.json string or named list, built-in
// layouts only on request), the messages a folder without one gets, and the assistant mask from
// {% generation %} blocks agreeing with the prefix-rendering rule on the same conversation.
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;

namespace OnnxLora.Models.Tests.Chat;

public sealed class ChatTemplateRendererTests
{
    private static readonly List<ChatMessage> s_chat =
        [new("system", "Be brief."), new("user", "Hi"), new("assistant", "Ahoy!"), new("user", "Bye"), new("assistant", "Fair winds.")];

    private static void WriteConfig(string dir, string chatTemplateJson) => File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
        $$"""{"bos_token": "<s>", "eos_token": "</s>", "chat_template": {{chatTemplateJson}}}""");

    [Fact]
    public void NamedTemplateListUsesDefaultUnlessOneIsNamed()
    {
        using var dir = new TempDir();
        WriteConfig(dir.Path, """[{"name": "tool_use", "template": "T{{ bos_token }}"}, {"name": "default", "template": "D{{ eos_token }}"}]""");
        Assert.Equal("D</s>", ChatTemplateRenderer.ForModel(dir.Path).RenderText(s_chat, false));
        Assert.Equal("T<s>", ChatTemplateRenderer.ForModel(dir.Path, "tool_use").RenderText(s_chat, false));
    }

    [Fact]
    public void ChatTemplateJinjaFileWinsOverTokenizerConfig()
    {
        using var dir = new TempDir();
        WriteConfig(dir.Path, "\"from config\"");
        File.WriteAllText(dir["chat_template.jinja"], "from file {{ messages | length }}");
        var r = ChatTemplateRenderer.ForModel(dir.Path);
        Assert.Equal("from file 5", r.RenderText(s_chat, false));
        Assert.EndsWith("chat_template.jinja", r.Source);
    }

    [Fact]
    public void BuiltinLayoutIsUsedOnlyWhenAskedFor()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["tokenizer_config.json"], """{"bos_token": "<s>", "eos_token": "</s>"}""");
        var e = Assert.Throws<BadInputException>(() => ChatTemplateRenderer.ForModel(dir.Path));
        Assert.Equal($"{dir.Path}: the model has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json); " +
            "pass --chat-template (chatml, llama2, llama3, zephyr, plain or a .jinja file)", e.Message);
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplateRenderer.ForModel(dir.Path, "chatml").RenderText([new("user", "Hi")], addGenerationPrompt: true));
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Ahoy! </s><s>[INST] Bye [/INST] Fair winds. </s>",
            ChatTemplateRenderer.ForModel(dir.Path, "llama2").RenderText(s_chat, false));
    }

    [Fact]
    public void UnknownTemplateNameListsTheChoices()
    {
        using var dir = new TempDir();
        WriteConfig(dir.Path, """[{"name": "default", "template": "D"}, {"name": "rag", "template": "R"}]""");
        var e = Assert.Throws<BadInputException>(() => ChatTemplateRenderer.ForModel(dir.Path, "vicuna"));
        Assert.Equal("chat_template: unknown template 'vicuna' (expected the model's default, rag, chatml, llama2, llama3, zephyr, plain or a .jinja file)", e.Message);
    }

    [Fact]
    public void TemplateSyntaxErrorNamesTheFileAndLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["chat_template.jinja"], "ok\n{% for m in messages %}\n{{ m.content }");
        var e = Assert.Throws<InvalidDataException>(() => ChatTemplateRenderer.ForModel(dir.Path));
        Assert.StartsWith(Path.Combine(dir.Path, "chat_template.jinja") + ": chat template line 3:", e.Message);
    }

    [Fact]
    public void GenerationBlocksGiveTheSameMaskAsPrefixRendering()
    {
        using var dir = new TempDir();
        EmbeddedTokenizer.WriteTo(dir.Path);
        var tokenizer = TextTokenizer.Load(dir.Path);
        const string plain = "{{ bos_token }}{% for m in messages %}{{ '<|' + m.role + '|>\n' }}" +
            "{% if m.role == 'assistant' %}{{ m.content + eos_token + '\n' }}{% else %}{{ m.content + eos_token + '\n' }}{% endif %}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
        const string marked = "{{ bos_token }}{% for m in messages %}{{ '<|' + m.role + '|>\n' }}" +
            "{% if m.role == 'assistant' %}{% generation %}{{ m.content + eos_token + '\n' }}{% endgeneration %}{% else %}{{ m.content + eos_token + '\n' }}{% endif %}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
        var tokens = new Dictionary<string, string?> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" };
        var byPrefix = new ChatTokenizer(new ChatTemplateRenderer(plain, tokens, "plain"), tokenizer).Encode(s_chat);
        var byMarkers = new ChatTokenizer(new ChatTemplateRenderer(marked, tokens, "marked"), tokenizer).Encode(s_chat);
        Assert.Equal(byPrefix.Ids, byMarkers.Ids);
        Assert.Equal(byPrefix.Counted, byMarkers.Counted);
        Assert.Equal(["Ahoy!</s>\n", "Fair winds.</s>\n"], CountedTexts(tokenizer, byMarkers));
    }

    [Fact]
    public void QwenStyleLastTurnIsCountedWithItsThinkBlockAndEarlierTurnsWithout()
    {
        // A template that renders an empty think block only into the final assistant turn (as Qwen3's does).
        using var dir = new TempDir();
        EmbeddedTokenizer.WriteTo(dir.Path);
        var tokenizer = TextTokenizer.Load(dir.Path);
        const string template = "{% for m in messages %}{{ '<|' + m.role + '|>\n' }}{% if m.role == 'assistant' and loop.last %}{{ '<think></think>' }}{% endif %}" +
            "{{ m.content + eos_token + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}";
        var chat = new ChatTokenizer(new ChatTemplateRenderer(template, new Dictionary<string, string?> { ["eos_token"] = "</s>" }, "t"), tokenizer);
        var e = chat.Encode(s_chat);
        Assert.Equal(["Ahoy!</s>\n", "<think></think>Fair winds.</s>\n"], CountedTexts(tokenizer, e));
    }

    private static List<string> CountedTexts(TextTokenizer tokenizer, ChatEncoding e)
    {
        var runs = new List<string>();
        var current = new List<int>();
        for (int i = 0; i <= e.Ids.Count; i++)
        {
            if (i < e.Ids.Count && e.Counted[i])
            {
                current.Add(e.Ids[i]);
            }
            else if (current.Count > 0)
            {
                runs.Add(tokenizer.Decode(current, skipSpecialTokens: false));
                current.Clear();
            }
        }
        return runs;
    }
}
