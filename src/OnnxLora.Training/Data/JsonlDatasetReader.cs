// Reads a JSONL dataset (one JSON object per line; blank lines skipped) into RawExamples, detecting or enforcing
// the layout. Every error names "file:line" and the problem in one line, and is raised before any training starts.
// It does not tokenise; see ExampleTokenizer.
using System.Text.Json;
using OnnxLora.Models.Chat;

namespace OnnxLora.Training.Data;

public static class JsonlDatasetReader
{
    private static readonly HashSet<string> s_roles = ["system", "user", "assistant", "tool"];

    /// <summary>Reads <paramref name="path"/>; errors are prefixed with the file name.</summary>
    public static IReadOnlyList<RawExample> ReadFile(string path, DatasetFormat format = DatasetFormat.Auto)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: dataset file not found", path);
        }
        return Parse(File.ReadAllText(path), Path.GetFileName(path), format);
    }

    /// <summary>Parses JSONL <paramref name="text"/>; <paramref name="name"/> is the file name used in errors.</summary>
    public static IReadOnlyList<RawExample> Parse(string text, string name, DatasetFormat format = DatasetFormat.Auto)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(name);
        var examples = new List<RawExample>();
        DatasetFormat layout = format;
        int firstLine = 0;
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            string where = $"{name}:{i + 1}";
            using JsonDocument doc = ParseLine(line, where);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where}: expected a JSON object, got {Kind(doc.RootElement)}");
            }
            DatasetFormat detected = Detect(doc.RootElement, where);
            if (layout == DatasetFormat.Auto)
            {
                layout = detected;
                firstLine = i + 1;
            }
            else if (detected != layout)
            {
                string origin = firstLine > 0 ? $"line {firstLine} is" : "format option says";
                throw new InvalidDataException(
                    $"{where}: mixed layouts: this line is {Describe(detected)} but {origin} {Describe(layout)}");
            }
            examples.Add(Read(doc.RootElement, layout, where));
        }
        if (examples.Count == 0)
        {
            throw new InvalidDataException($"{name}: dataset is empty (no non-blank lines)");
        }
        return examples;
    }

    private static JsonDocument ParseLine(string line, string where)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            string detail = e.Message.Split('\n')[0].Split(" Path:")[0].Split(" LineNumber:")[0].TrimEnd('.');
            throw new InvalidDataException($"{where}: malformed JSON: {detail}");
        }
    }

    private static DatasetFormat Detect(JsonElement obj, string where)
    {
        if (obj.TryGetProperty("messages", out _))
        {
            return DatasetFormat.Messages;
        }
        if (obj.TryGetProperty("prompt", out _) || obj.TryGetProperty("completion", out _))
        {
            return DatasetFormat.PromptCompletion;
        }
        if (obj.TryGetProperty("text", out _))
        {
            return DatasetFormat.Text;
        }
        throw new InvalidDataException(
            $"{where}: no 'text', 'prompt'/'completion' or 'messages' field; cannot tell the layout");
    }

    private static RawExample Read(JsonElement obj, DatasetFormat layout, string where) => layout switch
    {
        DatasetFormat.Text => new RawExample(layout, where, Text: RequireString(obj, "text", where)),
        DatasetFormat.PromptCompletion => new RawExample(layout, where,
            Prompt: RequireString(obj, "prompt", where), Completion: RequireString(obj, "completion", where)),
        DatasetFormat.Messages => new RawExample(layout, where, Messages: ReadMessages(obj, where)),
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, "no layout to read"),
    };

    private static List<ChatMessage> ReadMessages(JsonElement obj, string where)
    {
        if (!obj.TryGetProperty("messages", out JsonElement array))
        {
            throw new InvalidDataException($"{where}: missing field 'messages'");
        }
        if (array.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{where}: field 'messages' must be an array, got {Kind(array)}");
        }
        var messages = new List<ChatMessage>();
        int index = 0;
        foreach (JsonElement m in array.EnumerateArray())
        {
            string at = $"messages[{index}]";
            if (m.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{where}: {at} must be an object, got {Kind(m)}");
            }
            string role = RequireString(m, "role", where, at + ".");
            string content = RequireString(m, "content", where, at + ".");
            if (!s_roles.Contains(role))
            {
                throw new InvalidDataException($"{where}: unknown role '{role}' (expected system, user, assistant or tool)");
            }
            // Other fields (reasoning_content, tool_calls, name, ...) go to the template as they are.
            var extra = m.EnumerateObject().Where(p => p.Name is not ("role" or "content"))
                .ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal);
            messages.Add(new ChatMessage(role, content) { Extra = extra.Count > 0 ? extra : null });
            index++;
        }
        if (messages.Count == 0)
        {
            throw new InvalidDataException($"{where}: 'messages' is empty");
        }
        if (!messages.Any(m => m.Role == "assistant"))
        {
            throw new InvalidDataException($"{where}: no assistant message, so nothing to train on");
        }
        return messages;
    }

    private static string RequireString(JsonElement obj, string field, string where, string prefix = "")
    {
        if (!obj.TryGetProperty(field, out JsonElement value))
        {
            throw new InvalidDataException($"{where}: missing field '{prefix}{field}'");
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"{where}: field '{prefix}{field}' must be a string, got {Kind(value)}");
        }
        return value.GetString()!;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };

    private static string Describe(DatasetFormat f) => f switch
    {
        DatasetFormat.Text => "{\"text\"}",
        DatasetFormat.PromptCompletion => "{\"prompt\",\"completion\"}",
        DatasetFormat.Messages => "{\"messages\"}",
        _ => f.ToString(),
    };
}
