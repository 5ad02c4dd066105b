// One dataset line as read, before tokenisation. Exactly the fields of its Format are set.
// Source is "file:line" so every later error can point back at the line that caused it.
using OnnxLora.Models.Chat;

namespace OnnxLora.Training.Data;

public sealed record RawExample(
    DatasetFormat Format,
    string Source,
    string? Text = null,
    string? Prompt = null,
    string? Completion = null,
    IReadOnlyList<ChatMessage>? Messages = null);
