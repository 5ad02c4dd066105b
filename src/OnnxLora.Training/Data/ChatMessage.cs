// One turn of a conversation. Role is one of "system", "user", "assistant" (checked by the reader).
namespace OnnxLora.Training.Data;

public sealed record ChatMessage(string Role, string Content);
