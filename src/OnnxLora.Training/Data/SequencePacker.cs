// Packs tokenised examples, in order, into rows of exactly max_seq_len (greedy: a row takes examples until the
// next one does not fit, then is right-padded). Each example keeps its own 1-based segment id in AttentionMask,
// and the label of its first token is masked so no loss crosses a boundary. It does not split examples.
namespace OnnxLora.Training.Data;

public static class SequencePacker
{
    public static IReadOnlyList<PackedSequence> Pack(IReadOnlyList<TokenizedExample> examples, int maxSeqLen, long padId)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeqLen, 1);
        var rows = new List<PackedSequence>();
        var current = new List<TokenizedExample>();
        int used = 0;
        foreach (TokenizedExample e in examples)
        {
            if (e.Length > maxSeqLen)
            {
                throw new ArgumentException($"example of {e.Length} tokens is longer than max_seq_len {maxSeqLen}", nameof(examples));
            }
            if (used + e.Length > maxSeqLen)
            {
                rows.Add(Row(current, maxSeqLen, padId));
                current.Clear();
                used = 0;
            }
            current.Add(e);
            used += e.Length;
        }
        if (current.Count > 0)
        {
            rows.Add(Row(current, maxSeqLen, padId));
        }
        return rows;
    }

    private static PackedSequence Row(List<TokenizedExample> parts, int length, long padId)
    {
        long[] ids = new long[length];                                   // (T)
        long[] labels = new long[length];                                // (T)
        long[] mask = new long[length];                                  // (T) segment ids, 0 = padding
        Array.Fill(ids, padId);
        Array.Fill(labels, TokenizedExample.IgnoreIndex);
        int t = 0;
        for (int s = 0; s < parts.Count; s++)
        {
            TokenizedExample e = parts[s];
            e.InputIds.CopyTo(ids, t);
            e.Labels.CopyTo(labels, t);
            labels[t] = TokenizedExample.IgnoreIndex;
            Array.Fill(mask, s + 1, t, e.Length);
            t += e.Length;
        }
        return new PackedSequence(ids, labels, mask);
    }
}
