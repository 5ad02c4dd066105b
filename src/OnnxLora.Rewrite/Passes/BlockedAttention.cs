// Query-block attention in standard ops: the T query rows are cut into N blocks (bounds ⌊i·T/N⌋, so T stays
// dynamic and N is fixed when the graph is built), and block i attends only to the keys a causal row in it can
// see, 0..end_i. The largest attention tensor is then (B,H,T/N,end_i), never (B,H,T,T); the mask is built per
// block as well. A query block spans every key its rows can see, so each row's softmax is complete inside its
// block: no online (running max/sum) statistics are needed, and the generated backward is per block too (the
// slices, repeat_kv, scores and probabilities are recomputable, so backward rebuilds one block at a time from
// q, k, v). Block outputs are joined by Pad + Add, whose gradient (a Slice of the incoming gradient) reads no
// forward value; a Concat's would read each block's output shape and so keep the outputs alive until backward.
// Each block's values are declared with their own dim symbols (attention_block{i}_rows/_keys) so that shape
// inference proves every broadcast static (no runtime reductions, no NonZero). It does not split along keys
// (flash attention's inner loop); see docs/attention.md.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public static class BlockedAttention
{
    /// <summary>
    /// Row bounds and key ends of each block as 1-element int64 tensors, the per-block additive biases, the pads that put a
    /// block's rows back at their place in T (Pad's 8 values for (B,H,T,d)), the (B,T,1) keep, and the batch and
    /// sequence dims of the attention mask (for declared shapes).
    /// </summary>
    public sealed record Masks(IReadOnlyList<string> Starts, IReadOnlyList<string> Ends, IReadOnlyList<string> KeyEnds, IReadOnlyList<string> Biases,
        IReadOnlyList<string> Pads, string Keep, Dim Batch, Dim Time);

    /// <summary>The dim symbol of block i's query rows (⌊(i+1)·T/N⌋ − ⌊i·T/N⌋).</summary>
    public static string RowsSymbol(int block) => $"attention_block{block}_rows";

    /// <summary>
    /// The dim symbol of block i's keys: ⌊(i+1)·T/N⌋, every key up to the block's last row; 0 for a block without rows
    /// (T &lt; N), whose MatMuls would otherwise sum over an empty axis into (…,keys,d) gradients ORT leaves unwritten.
    /// </summary>
    public static string KeysSymbol(int block) => $"attention_block{block}_keys";

    /// <summary>Values of the block symbols for sequence length <paramref name="t"/> (sizing a graph, e.g. SavedActivations).</summary>
    public static Dictionary<string, long> BlockDims(long t, int blocks)
    {
        var dims = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < blocks; i++)
        {
            long start = i * t / blocks, end = (i + 1) * t / blocks;
            dims[RowsSymbol(i)] = end - start;
            dims[KeysSymbol(i)] = end > start ? end : 0;
        }
        return dims;
    }

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
        var declared = b.Graph.Inputs.First(i => i.Name == attentionMask);
        var maskDims = declared.Type?.TensorType?.Shape is null ? [] : Graph.TypeOf(declared).Shape;
        Dim batch = maskDims.Length == 2 ? maskDims[0] : Dim.Unknown, time = maskDims.Length == 2 ? maskDims[1] : Dim.Unknown;
        var t = b.Gather(b.Shape(attentionMask), b.ScalarI64(1)); // scalar T
        var bounds = Enumerable.Range(0, blocks + 1)
            .Select(i => i == 0 ? b.ScalarI64(0) : i == blocks ? t : b.Div(b.Mul(t, b.ScalarI64(i)), b.ScalarI64(blocks)))
            .ToArray(); // scalars ⌊i·T/N⌋
        foreach (var bound in bounds.Skip(1))
        {
            Declare(b.Graph, bound, ElementType.Int64);
        }
        var starts = new List<string>();
        var ends = new List<string>();
        var keyEnds = new List<string>();
        var biases = new List<string>();
        var pads = new List<string>();
        var seen = new List<string>();
        for (int i = 0; i < blocks; i++)
        {
            var keyEnd = b.Mul(bounds[i + 1], b.Op("Min", b.Sub(bounds[i + 1], bounds[i]), b.ScalarI64(1))); // end_i, or 0 without rows
            Declare(b.Graph, keyEnd, ElementType.Int64);
            string start = b.Unsqueeze(bounds[i], 0), end = b.Unsqueeze(bounds[i + 1], 0), keysEnd = b.Unsqueeze(keyEnd, 0); // [1]
            var rows = b.Op("Range", bounds[i], bounds[i + 1], b.ScalarI64(1)); // (tq)
            var cols = b.Op("Range", b.ScalarI64(0), keyEnd, b.ScalarI64(1)); // (tk) = 0..end_i
            var causal = b.Op("GreaterOrEqual", b.Unsqueeze(rows, 1), b.Unsqueeze(cols, 0)); // (tq,tk)
            var rowIds = b.Op("Slice", attentionMask, start, end, b.Ints(1)); // (B,tq)
            var colIds = b.Op("Slice", attentionMask, b.Ints(0), keysEnd, b.Ints(1)); // (B,tk)
            var sameSegment = b.Equal(b.Unsqueeze(rowIds, 2), b.Unsqueeze(colIds, 1)); // (B,tq,tk)
            var keyValid = b.Cast(b.Unsqueeze(colIds, 1), ElementType.Bool); // (B,1,tk)
            var visible = b.Op("And", b.Op("And", causal, sameSegment), keyValid); // (B,tq,tk)
            var additive = b.Where(visible, b.Scalar(0f), b.Scalar(AttentionLowering.MaskedScore)); // (B,tq,tk)
            Declare(b.Graph, additive, ElementType.Float, batch, RowsSymbol(i), KeysSymbol(i));
            var bias = b.Unsqueeze(additive, 1); // (B,1,tq,tk)
            Declare(b.Graph, bias, ElementType.Float, batch, 1, RowsSymbol(i), KeysSymbol(i));
            biases.Add(bias);
            // (B,H,tq,d) → (B,H,T,d): start_i rows before, T − end_i after
            pads.Add(b.Concat(0, b.Ints(0, 0), start, b.Ints(0, 0, 0), b.Unsqueeze(b.Sub(t, bounds[i + 1]), 0), b.Ints(0)));
            Declare(b.Graph, pads[^1], ElementType.Int64, 8);
            seen.Add(b.ReduceSum(b.Cast(visible, ElementType.Float), [-1], keepDims: true)); // (B,tq,1)
            starts.Add(start);
            ends.Add(end);
            keyEnds.Add(keysEnd);
        }
        var keep = b.Cast(b.Op("Greater", b.Concat(1, [.. seen]), b.Scalar(0f)), computeType); // (B,T,1)
        Declare(b.Graph, keep, computeType, batch, time, 1);
        return new Masks(starts, ends, keyEnds, biases, pads, keep, batch, time);
    }

    /// <summary>
    /// softmax(q·kᵀ + bias)·v block by block: q (B,H,T,d) already scaled, k/v (B,K,T,d) not yet repeated.
    /// <paramref name="r"/> is the recomputable scope (slices, repeat_kv, scores, probabilities); the block outputs
    /// come from <paramref name="b"/>. Returns (B,H,T,d).
    /// </summary>
    public static string Attend(GraphBuilder b, GraphBuilder r, Masks masks, string q, string k, string v, long h, long kvh, long d,
        Func<GraphBuilder, string, string> repeatKv, ElementType computeType)
    {
        string? sum = null;
        string? kT = null; // (B,K,d,T), once per layer when there is no repeat_kv
        for (int i = 0; i < masks.Biases.Count; i++)
        {
            var zero = b.Ints(0);
            var axis = b.Ints(2);
            var qi = r.Op("Slice", q, masks.Starts[i], masks.Ends[i], axis); // (B,H,tq,d)
            Declare(b.Graph, qi, computeType, masks.Batch, h, RowsSymbol(i), d);
            var vSlice = r.Op("Slice", v, zero, masks.KeyEnds[i], axis); // (B,K,tk,d)
            Declare(b.Graph, vSlice, computeType, masks.Batch, kvh, KeysSymbol(i), d);
            var vi = repeatKv(r, vSlice); // (B,H,tk,d)
            string kiT;
            if (h == kvh)
            {
                // kᵀ sliced along its last axis, not k sliced then transposed: ORT CPU failed at run time on the
                // latter (a Gather it generates, out of range) when no repeat_kv stands between the two.
                kiT = r.Op("Slice", kT ??= r.Transpose(k, 0, 1, 3, 2), zero, masks.KeyEnds[i], b.Ints(3)); // (B,H,d,tk)
                Declare(b.Graph, kiT, computeType, masks.Batch, h, d, KeysSymbol(i));
            }
            else
            {
                var kSlice = r.Op("Slice", k, zero, masks.KeyEnds[i], axis); // (B,K,tk,d)
                Declare(b.Graph, kSlice, computeType, masks.Batch, kvh, KeysSymbol(i), d);
                kiT = r.Transpose(repeatKv(r, kSlice), 0, 1, 3, 2); // (B,H,d,tk)
            }
            var scores = r.MatMul(qi, kiT); // (B,H,tq,tk)
            if (computeType != ElementType.Float)
            {
                scores = r.Cast(scores, ElementType.Float);
            }
            var probs = r.Softmax(r.Add(scores, masks.Biases[i]), -1); // (B,H,tq,tk)
            if (computeType != ElementType.Float)
            {
                probs = r.Cast(probs, computeType);
            }
            var placed = b.Op("Pad", b.MatMul(probs, vi), masks.Pads[i]); // (B,H,tq,d) → (B,H,T,d), zeros elsewhere
            Declare(b.Graph, placed, computeType, masks.Batch, h, masks.Time, d);
            sum = sum is null ? placed : b.Add(sum, placed);
        }
        return sum!; // (B,H,T,d)
    }

    /// <summary>A value_info for <paramref name="value"/>: a fact of the construction that shape inference cannot derive (⌊i·T/N⌋ bounds).</summary>
    private static void Declare(Graph g, string value, ElementType type, params Dim[] shape) =>
        g.Extra.ValueInfo.Add(Graph.MakeValueInfo(value, type, shape));
}
