// Rendered segments of the fixed layouts: only assistant content and its end token are trainable.
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Tests.Data;

public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] s_chat =
    [
        new("system", "S"), new("user", "U1"), new("assistant", "A1"), new("user", "U2"), new("assistant", "A2"),
    ];

    [Theory]
    [InlineData("chatml", "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n")]
    [InlineData("llama3", "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>")]
    [InlineData("llama2", "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 [INST] U2 [/INST] A2 ")]
    [InlineData("plain", "### System\nS\n\n### User\nU1\n\n### Assistant\nA1\n\n")]
    public void RendersLayoutAndTrainsOnlyAssistant(string name, string prefix)
    {
        var segments = ChatTemplate.FromName(name).Render(s_chat);
        string text = string.Concat(segments.Where(s => s.Kind is ChatSegmentKind.Text or ChatSegmentKind.EndOfTurn).Select(s => s.Text));
        Assert.StartsWith(prefix, text);
        string trained = string.Concat(segments.Where(s => s.Trainable && s.Kind == ChatSegmentKind.Text).Select(s => s.Text));
        Assert.Equal(name == "llama2" ? " A1  A2 " : "A1A2", trained);
        Assert.Equal(2, segments.Count(s => s.Trainable && s.Kind is ChatSegmentKind.Eos or ChatSegmentKind.EndOfTurn));
    }

    [Fact]
    public void UnknownNameIsRejected() =>
        Assert.StartsWith("chat_template: unknown template 'vicuna'",
            Assert.Throws<ArgumentException>(() => ChatTemplate.FromName("vicuna")).Message);
}
