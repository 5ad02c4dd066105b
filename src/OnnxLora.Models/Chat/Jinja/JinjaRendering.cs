// The output of a template and the ranges of it that {% generation %} blocks wrote (assistant output).
namespace OnnxLora.Models.Chat.Jinja;

public sealed record JinjaRendering(string Text, IReadOnlyList<Range> GenerationSpans);
