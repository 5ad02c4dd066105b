// The model's own template, rendered by our engine and tokenized by our tokenizers, against the reference made
// with transformers.js' engine and tokenizers (tools/chat-reference): text, ids, assistant mask and the
// generation prompt, for Llama 2, Llama 3.1, Qwen3 and Gemma 3 on 7 conversations each.
using System.Text.Json.Nodes;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Models.Tests.Chat;

public sealed class ChatTemplateReferenceTests
{
    // Loading Gemma 3's 33 MB tokenizer.json takes seconds: one load per model for the whole class.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<TextTokenizer>> s_tokenizers = new();

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in ChatReference.Models)
        {
            foreach (var c in ChatReference.Fixture(model)["cases"]!.AsArray())
            {
                data.Add(model, c!["name"]!.GetValue<string>());
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RenderedTextEqualsReference(string model, string name)
    {
        var c = Case(model, name);
        var renderer = ChatTemplateRenderer.ForModel(ChatReference.ModelDir(model));
        Assert.Equal(c["text"]!.GetValue<string>(), renderer.RenderText(Messages(c), addGenerationPrompt: false));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RenderedTextTokenizesToReferenceIds(string model, string name)
    {
        var c = Case(model, name);
        var tokenizer = Tokenizer(model);
        Assert.Equal(ChatReference.Ints(c["input_ids"]), tokenizer.Encode(c["text"]!.GetValue<string>(), addSpecialTokens: false));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConversationEncodesToReferenceIdsAndAssistantMask(string model, string name)
    {
        var c = Case(model, name);
        string dir = ChatReference.ModelDir(model);
        var chat = new ChatTokenizer(ChatTemplateRenderer.ForModel(dir), Tokenizer(model));
        var encoding = chat.Encode(Messages(c));
        Assert.Equal(ChatReference.Ints(c["input_ids"]), encoding.Ids);
        Assert.Equal(ChatReference.Ints(c["labels"]).Select(l => l != -100), encoding.Counted);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GenerationPromptEqualsReference(string model, string name)
    {
        var c = Case(model, name);
        string dir = ChatReference.ModelDir(model);
        var chat = new ChatTokenizer(ChatTemplateRenderer.ForModel(dir), Tokenizer(model));
        var prompt = Messages(c).SkipLast(1).ToList();
        Assert.Equal(c["prompt_text"]!.GetValue<string>(), chat.RenderPrompt(prompt));
        Assert.Equal(ChatReference.Ints(c["prompt_ids"]), chat.EncodePrompt(prompt));
    }

    internal static TextTokenizer Tokenizer(string model) =>
        s_tokenizers.GetOrAdd(model, m => new Lazy<TextTokenizer>(() => TextTokenizer.Load(ChatReference.ModelDir(m)))).Value;

    internal static JsonObject Case(string model, string name) =>
        ChatReference.Fixture(model)["cases"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!.AsObject();

    internal static List<ChatMessage> Messages(JsonObject c) => c["messages"]!.AsArray()
        .Select(m => new ChatMessage(m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
}
