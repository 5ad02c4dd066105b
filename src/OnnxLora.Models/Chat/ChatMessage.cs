// One turn of a conversation as a dataset or a chat session gives it: role, content, and any other fields the
// message carried (tool_calls, reasoning_content, name, ...), which the model's template may read.
namespace OnnxLora.Models.Chat;

public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>Fields other than role and content, as JSON values (strings, numbers, lists, dictionaries).</summary>
    public IReadOnlyDictionary<string, object?>? Extra { get; init; }

    /// <summary>The message as the template sees it: {"role", "content", ...Extra}.</summary>
    public Dictionary<string, object?> ToTemplateValue()
    {
        var d = new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = Role, ["content"] = Content };
        if (Extra is not null)
        {
            foreach (var kv in Extra)
            {
                d[kv.Key] = kv.Value;
            }
        }
        return d;
    }
}
