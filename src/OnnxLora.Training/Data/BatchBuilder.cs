// Stacks rows into one (B,T) batch: right padding to the longest row with the pad id, labels -100 and
// attention_mask 0 on padding. Unpacked rows get mask 1 on real tokens; packed rows keep their segment ids.
namespace OnnxLora.Training.Data;

public static class BatchBuilder
{
    public static TokenBatch Build(IReadOnlyList<TokenizedExample> rows, long padId)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return Stack(rows.Count, i => rows[i].InputIds, i => rows[i].Labels, mask: null, padId);
    }

    public static TokenBatch Build(IReadOnlyList<PackedSequence> rows, long padId)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return Stack(rows.Count, i => rows[i].InputIds, i => rows[i].Labels, i => rows[i].AttentionMask, padId);
    }

    private static TokenBatch Stack(
        int b, Func<int, long[]> ids, Func<int, long[]> labels, Func<int, long[]>? mask, long padId)
    {
        if (b == 0)
        {
            throw new ArgumentException("a batch needs at least one row");
        }
        int t = Enumerable.Range(0, b).Max(i => ids(i).Length);
        long[] inputIds = new long[b * t];                               // (B,T)
        long[] attention = new long[b * t];                              // (B,T)
        long[] target = new long[b * t];                                 // (B,T)
        Array.Fill(inputIds, padId);
        Array.Fill(target, TokenizedExample.IgnoreIndex);
        for (int r = 0; r < b; r++)
        {
            long[] row = ids(r);
            row.CopyTo(inputIds, r * t);
            labels(r).CopyTo(target, r * t);
            if (mask is null)
            {
                Array.Fill(attention, 1L, r * t, row.Length);
            }
            else
            {
                mask(r).CopyTo(attention, r * t);
            }
        }
        return new TokenBatch(inputIds, attention, target, b, t);
    }
}
