// A row of exactly max_seq_len tokens holding several examples back to back.
// AttentionMask holds 1-based segment ids (1 for the first example in the row, 2 for the next, …) and 0 for
// padding: a token may attend to earlier tokens with the same id only. A trainer whose graph takes a 0/1 mask
// can use (id != 0); then examples in a row see each other, but labels are still masked at every boundary.
namespace OnnxLora.Training.Data;

public sealed record PackedSequence(long[] InputIds, long[] Labels, long[] AttentionMask)
{
    public int Length => InputIds.Length;

    /// <summary>Number of examples in the row (the largest segment id).</summary>
    public int Segments => AttentionMask.Length == 0 ? 0 : (int)AttentionMask.Max();
}
