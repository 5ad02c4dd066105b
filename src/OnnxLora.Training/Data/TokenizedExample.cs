// One example as token ids. Labels[i] = InputIds[i] where the token counts in the loss, -100 elsewhere.
// No shift here: the training graph shifts like HF (logits[:, :-1] against labels[:, 1:]).
namespace OnnxLora.Training.Data;

public sealed record TokenizedExample(long[] InputIds, long[] Labels)
{
    /// <summary>The value that excludes a position from the loss (torch CrossEntropyLoss ignore_index).</summary>
    public const long IgnoreIndex = -100;

    public int Length => InputIds.Length;
}
