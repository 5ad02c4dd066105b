// Query-block attention in standard ops: the T query rows are cut into N blocks (bounds ⌊i·T/N⌋, so T stays
// dynamic and N is fixed when the graph is built), and block i attends only to the keys a causal row in it can
// see, 0..end_i. The largest attention tensor is then (B,H,T/N,end_i), never (B,H,T,T); the mask is built per
// block as well. A query block spans every key its rows can see, so each row's softmax is complete inside its
// block: no online (running max/sum) statistics are needed, and the generated backward is per block too (the
// slices, repeat_kv, scores and probabilities are recomputable, so backward rebuilds one block at a time from
// q, k, v). It does not split along keys (flash attention's inner loop); see docs/attention.md.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class BlockedAttention
{
    /// <summary>Row bounds of each block as 1-element int64 tensors, the per-block additive biases and the (B,T,1) keep.</summary>
    public sealed record Masks(IReadOnlyList<string> Starts, IReadOnlyList<string> Ends, IReadOnlyList<string> Biases, string Keep);

    /// <summary>
    /// Per block i: bias_i (B,1,tq_i,end_i) float = 0 where key j is visible to query row i·T/N + r, finfo.min
    /// elsewhere (visibility as in the full mask: causal, same segment id, key not padding), and keep (B,T,1) in
    /// the compute type: 0 for a row with no visible key. Built once and shared by all layers.
    /// </summary>
    public static Masks BuildMasks(GraphBuilder b, string attentionMask, int blocks, ElementType computeType)
    {
        if (blocks < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "blocked attention needs at least 2 query blocks");
        }
        var t = b.Gather(b.Shape(attentionMask), b.ScalarI64(1)); // scalar T
        var bounds = Enumerable.Range(0, blocks + 1)
            .Select(i => i == 0 ? b.ScalarI64(0) : i == blocks ? t : b.Div(b.Mul(t, b.ScalarI64(i)), b.ScalarI64(blocks)))
            .ToArray(); // scalars ⌊i·T/N⌋
        var starts = new List<string>();
        var ends = new List<string>();
        var biases = new List<string>();
        var seen = new List<string>();
        for (int i = 0; i < blocks; i++)
        {
            string start = b.Unsqueeze(bounds[i], 0), end = b.Unsqueeze(bounds[i + 1], 0); // [1]
            var rows = b.Op("Range", bounds[i], bounds[i + 1], b.ScalarI64(1)); // (tq)
            var cols = b.Op("Range", b.ScalarI64(0), bounds[i + 1], b.ScalarI64(1)); // (tk) = 0..end_i
            var causal = b.Op("GreaterOrEqual", b.Unsqueeze(rows, 1), b.Unsqueeze(cols, 0)); // (tq,tk)
            var rowIds = b.Op("Slice", attentionMask, start, end, b.Ints(1)); // (B,tq)
            var colIds = b.Op("Slice", attentionMask, b.Ints(0), end, b.Ints(1)); // (B,tk)
            var sameSegment = b.Equal(b.Unsqueeze(rowIds, 2), b.Unsqueeze(colIds, 1)); // (B,tq,tk)
            var keyValid = b.Cast(b.Unsqueeze(colIds, 1), ElementType.Bool); // (B,1,tk)
            var visible = b.Op("And", b.Op("And", causal, sameSegment), keyValid); // (B,tq,tk)
            biases.Add(b.Unsqueeze(b.Where(visible, b.Scalar(0f), b.Scalar(AttentionLowering.MaskedScore)), 1)); // (B,1,tq,tk)
            seen.Add(b.ReduceSum(b.Cast(visible, ElementType.Float), [-1], keepDims: true)); // (B,tq,1)
            starts.Add(start);
            ends.Add(end);
        }
        var keep = b.Cast(b.Op("Greater", b.Concat(1, [.. seen]), b.Scalar(0f)), computeType); // (B,T,1)
        return new Masks(starts, ends, biases, keep);
    }

    /// <summary>
    /// softmax(q·kᵀ + bias)·v block by block: q (B,H,T,d) already scaled, k/v (B,K,T,d) not yet repeated.
    /// <paramref name="r"/> is the recomputable scope (slices, repeat_kv, scores, probabilities); the block outputs
    /// come from <paramref name="b"/>. Returns (B,H,T,d).
    /// </summary>
    public static string Attend(GraphBuilder b, GraphBuilder r, Masks masks, string q, string k, string v,
        Func<GraphBuilder, string, string> repeatKv, ElementType computeType)
    {
        var outputs = new string[masks.Biases.Count];
        for (int i = 0; i < outputs.Length; i++)
        {
            var zero = b.Ints(0);
            var axis = b.Ints(2);
            var qi = r.Op("Slice", q, masks.Starts[i], masks.Ends[i], axis); // (B,H,tq,d)
            var ki = repeatKv(r, r.Op("Slice", k, zero, masks.Ends[i], axis)); // (B,H,tk,d)
            var vi = repeatKv(r, r.Op("Slice", v, zero, masks.Ends[i], axis)); // (B,H,tk,d)
            var scores = r.MatMul(qi, r.Transpose(ki, 0, 1, 3, 2)); // (B,H,tq,tk)
            if (computeType != ElementType.Float)
            {
                scores = r.Cast(scores, ElementType.Float);
            }
            var probs = r.Softmax(r.Add(scores, masks.Biases[i]), -1); // (B,H,tq,tk)
            if (computeType != ElementType.Float)
            {
                probs = r.Cast(probs, computeType);
            }
            outputs[i] = b.MatMul(probs, vi); // (B,H,tq,d)
        }
        return b.Concat(2, outputs); // (B,H,T,d)
    }
}
