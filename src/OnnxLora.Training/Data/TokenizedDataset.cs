// The tokenised examples of one file or split, and how many of them were cut to max_seq_len (report it).
namespace OnnxLora.Training.Data;

public sealed record TokenizedDataset(IReadOnlyList<TokenizedExample> Examples, int TruncatedCount)
{
    public int Count => Examples.Count;

    /// <summary>Tokens that carry loss across the dataset (after the shift: labels at index ≥ 1).</summary>
    public long CountedTokens => Examples.Sum(e => (long)e.Labels.Skip(1).Count(l => l != TokenizedExample.IgnoreIndex));
}
