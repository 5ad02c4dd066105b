// The tokenised examples of one file or split that are trained on, how many of them were cut to max_seq_len,
// and how many were dropped (empty, or no counted token) — all reported in the run summary.
namespace OnnxLora.Training.Data;

public sealed record TokenizedDataset(IReadOnlyList<TokenizedExample> Examples, int TruncatedCount, int EmptyCount = 0, int NoCountedTokenCount = 0)
{
    public int Count => Examples.Count;

    public int DroppedCount => EmptyCount + NoCountedTokenCount;

    /// <summary>Tokens that carry loss across the dataset (after the shift: labels at index ≥ 1).</summary>
    public long CountedTokens => Examples.Sum(e => (long)e.Labels.Skip(1).Count(l => l != TokenizedExample.IgnoreIndex));
}
