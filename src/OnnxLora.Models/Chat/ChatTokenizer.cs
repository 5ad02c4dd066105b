// Turns conversations into ids and an assistant mask: ids = tokenize(render(messages)) with nothing added or
// dropped; the mask comes from the template's {% generation %} blocks where it has them, else from prefix
// renderings as TRL does (see AssistantSpans). Generation prompts for chat/generate use the same renderer.
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Models.Chat;

public sealed class ChatTokenizer
{
    private readonly ChatTemplateRenderer _renderer;
    private readonly TextTokenizer _tokenizer;

    public ChatTokenizer(ChatTemplateRenderer renderer, TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(renderer);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _renderer = renderer;
        _tokenizer = tokenizer;
    }

    public ChatTemplateRenderer Renderer => _renderer;

    /// <summary>A training example: the whole conversation, assistant turns counted.</summary>
    public ChatEncoding Encode(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var rendering = _renderer.Render(messages, addGenerationPrompt: false);
        IReadOnlyList<int> ids = Encode(rendering.Text);
        var counted = new bool[ids.Count];
        if (_renderer.HasGenerationBlocks)
        {
            foreach (Range span in rendering.GenerationSpans)
            {
                var (offset, length) = span.GetOffsetAndLength(rendering.Text.Length);
                int start = AssistantSpans.CommonPrefix(Encode(rendering.Text[..offset]), ids);
                int end = AssistantSpans.CommonPrefix(Encode(rendering.Text[..(offset + length)]), ids);
                Array.Fill(counted, true, start, Math.Max(0, end - start));
            }
        }
        else
        {
            foreach (var (start, end) in AssistantSpans.Find(messages, ids, (prefix, prompt) => Encode(_renderer.RenderText(prefix, prompt))))
            {
                Array.Fill(counted, true, start, end - start);
            }
        }
        return new ChatEncoding(rendering.Text, ids, counted);
    }

    /// <summary>The prompt for the model's next assistant turn (add_generation_prompt=True), as text.</summary>
    public string RenderPrompt(IReadOnlyList<ChatMessage> messages) => _renderer.RenderText(messages, addGenerationPrompt: true);

    /// <summary>The prompt for the model's next assistant turn, as ids.</summary>
    public IReadOnlyList<int> EncodePrompt(IReadOnlyList<ChatMessage> messages) => Encode(RenderPrompt(messages));

    private IReadOnlyList<int> Encode(string text) => _tokenizer.Encode(text, addSpecialTokens: false);
}
