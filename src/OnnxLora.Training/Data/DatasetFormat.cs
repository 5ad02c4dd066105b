// The three JSONL layouts a dataset file may use. Auto picks one per file from its first example
// and then requires every other line to use the same layout.
namespace OnnxLora.Training.Data;

public enum DatasetFormat
{
    /// <summary>Detect from the first non-blank line.</summary>
    Auto,

    /// <summary>{"text": ...}: loss on every token.</summary>
    Text,

    /// <summary>{"prompt": ..., "completion": ...}: loss on the completion (and EOS) only.</summary>
    PromptCompletion,

    /// <summary>{"messages": [{"role", "content"}, ...]}: loss on assistant turns (and their end token) only.</summary>
    Messages,
}
