// Lowers GroupQueryAttention (com.microsoft; q/k/v separate or packed in one input as the model builder
// writes it by default; rotary fused or done by separate RotaryEmbedding nodes) and RotaryEmbedding to
// standard ops for a full sequence without KV cache, positions 0..T-1 in every row (as transformers does
// when no position_ids are given), causal and key-padding masked:
//   q,k ← RoPE(q,k);  k,v ← repeat_kv;  P = softmax((q·scale)·kᵀ + bias);  out = (P·v) · keep
// with bias = where(mask, 0, min) built once (B,1,T,T) and shared by all layers, and keep (B,T,1) = 0 for a
// query row that sees no key (a left pad), so it outputs zeros as torch's SDPA does (transformers 5).
// The builder's other attention forms (MultiHeadAttention for -e cpu -p fp16, Attention, PagedAttention)
// are refused, naming the builder option to re-export with.
// With queryBlocks ≥ 2 the scores/probabilities are built per query block (BlockedAttention): the same values,
// no (B,H,T,T) or (B,1,T,T) tensor. B=batch, T=time, H=heads, K=kv heads, d=head dim. It does not handle
// local windows or softcap.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Passes;

public sealed class AttentionLowering
{
    /// <summary>transformers fills masked scores with finfo(float32).min; so do we (finite, unlike -inf).</summary>
    public const float MaskedScore = float.MinValue;

    /// <param name="queryBlocks">1: one (B,H,T,T) score tensor per layer; N ≥ 2: N query blocks (<see cref="BlockedAttention"/>).</param>
    public static PassResult Run(Model model, string attentionMask = "attention_mask", ElementType computeType = ElementType.Float, int queryBlocks = 1)
    {
        if (queryBlocks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(queryBlocks), queryBlocks, "attention query blocks must be 1 (full) or more");
        }
        var g = model.Graph;
        if (g.Nodes.FirstOrDefault(n => n.Domain == Model.MicrosoftDomain && s_refused.ContainsKey(n.OpType)) is { } refused)
        {
            throw new RewriteException($"{refused}: {refused.OpType} cannot be lowered for training; {s_refused[refused.OpType]}");
        }
        var targets = g.Nodes.Where(n => n.Domain == Model.MicrosoftDomain && n.OpType is "GroupQueryAttention" or "RotaryEmbedding").ToList();
        if (targets.Count == 0)
        {
            return new PassResult(model, false);
        }
        var shared = new GraphBuilder(g, "/lowered/attention_mask/");
        (string Bias, string Keep)? mask = null;
        BlockedAttention.Masks? blockMasks = null;
        // Head sizes are read before any node is lowered: a query that a RotaryEmbedding rotates names its width only until then.
        var headDims = targets.Where(n => n.OpType == "GroupQueryAttention").ToDictionary(n => n, n => HeadDim(g, n));
        foreach (var n in targets)
        {
            var b = new GraphBuilder(g, n.Name + "/lowered/");
            if (n.OpType == "RotaryEmbedding")
            {
                LowerRotary(b, n);
            }
            else if (queryBlocks > 1)
            {
                RequireMaskInput(g, attentionMask);
                blockMasks ??= BlockedAttention.BuildMasks(shared, attentionMask, queryBlocks, computeType);
                LowerGqa(b, n, headDims[n], null, blockMasks, computeType);
            }
            else
            {
                mask ??= BuildMask(shared, attentionMask, g, computeType);
                LowerGqa(b, n, headDims[n], mask.Value, null, computeType);
            }
            g.Nodes.Remove(n);
        }
        g.TopologicalSort();
        return new PassResult(model, true);
    }

    /// <summary>The builder's attention ops that are not lowered, with the builder option that writes GroupQueryAttention instead.</summary>
    private static readonly Dictionary<string, string> s_refused = new(StringComparer.Ordinal)
    {
        ["MultiHeadAttention"] = "the model builder writes it for -e cpu -p fp16; re-export with -e cpu -p fp32, or -e cuda -p fp16/bf16 (GroupQueryAttention)",
        ["Attention"] = "the model builder writes it for -e cuda -p fp32; re-export with -e cpu -p fp32, or -e cuda -p fp16/bf16 (GroupQueryAttention)",
        ["PagedAttention"] = "re-export without --extra_options use_paged_attention=true (GroupQueryAttention)",
        ["SparseAttention"] = "re-export a model without block-sparse attention",
    };

    /// <summary>
    /// (B,1,T,T) float additive bias, 0 where key j is visible to query i and finfo.min elsewhere
    /// (as transformers' eager attention), and keep (B,T,1) in the compute type: 1 for a query row with a visible
    /// key, 0 for one without (SDPA outputs zeros there). Visible iff j ≤ i, attention_mask[b, j] ≠ 0 and
    /// attention_mask[b, j] = attention_mask[b, i]. A 0/1 mask is the usual padding mask; a mask of
    /// 1-based segment ids (packed sequences) also keeps attention within each example.
    /// </summary>
    private static (string Bias, string Keep) BuildMask(GraphBuilder b, string attentionMask, Graph g, ElementType computeType)
    {
        RequireMaskInput(g, attentionMask);
        var t = b.Gather(b.Shape(attentionMask), b.ScalarI64(1)); // scalar T
        var range = b.Op("Range", b.ScalarI64(0), t, b.ScalarI64(1)); // (T)
        var causal = b.Op("GreaterOrEqual", b.Unsqueeze(range, 1), b.Unsqueeze(range, 0)); // (T,T)
        var sameSegment = b.Equal(b.Unsqueeze(attentionMask, 2), b.Unsqueeze(attentionMask, 1)); // (B,T,T)
        var keyValid = b.Cast(b.Unsqueeze(attentionMask, 1), ElementType.Bool); // (B,1,T)
        var visible = b.Op("And", b.Op("And", causal, sameSegment), keyValid); // (B,T,T)
        // An Add of a shared bias instead of a Where per layer: ORT's broadcasting Where over (B,H,T,T)
        // was ~20× slower than the Add, and the Add's gradient is the identity (no Where in backward).
        // A masked score s + min rounds to min for any |s| far below ulp(min) ≈ 2e31, as a Where would give.
        var additive = b.Where(visible, b.Scalar(0f), b.Scalar(MaskedScore)); // (B,T,T)
        // declared so that shape inference (and SavedActivations) size it: the recomputed scores read it in backward
        if (g.Inputs.First(i => i.Name == attentionMask) is { Type.TensorType.Shape: not null } declared && Graph.TypeOf(declared).Shape is [var batch, var time])
        {
            g.Extra.ValueInfo.Add(Graph.MakeValueInfo(additive, ElementType.Float, batch, time, time));
        }
        var bias = b.Unsqueeze(additive, 1); // (B,1,T,T)
        var seen = b.ReduceSum(b.Cast(visible, ElementType.Float), [-1], keepDims: true); // (B,T,1) visible keys per query
        var keep = b.Cast(b.Op("Greater", seen, b.Scalar(0f)), computeType); // (B,T,1)
        return (bias, keep);
    }

    private static void RequireMaskInput(Graph g, string attentionMask)
    {
        if (!g.IsGraphInput(attentionMask))
        {
            throw new RewriteException($"graph input '{attentionMask}' not found; attention cannot be masked");
        }
    }

    /// <summary>d: from the fused rotary's cos_cache (d/2 columns), else from the query's width over its heads.</summary>
    private static long HeadDim(Graph g, Node n)
    {
        if (n.GetInt("do_rotary", 0) == 1)
        {
            return g.Initializers.TryGetValue(n.Input(7), out var cos)
                ? cos.Dims[1] * 2
                : throw new RewriteException($"{n}: cos_cache '{n.Input(7)}' is not an initializer");
        }
        long h = n.GetInt("num_heads", 0), kvh = n.GetInt("kv_num_heads", 0);
        bool packed = n.Input(1).Length == 0 && n.Input(2).Length == 0;
        long width = WidthOf(g, n.Input(0))
            ?? throw new RewriteException($"{n}: cannot tell the head size (query '{n.Input(0)}' has no known width and there is no cos_cache)");
        long heads = packed ? h + 2 * kvh : h;
        return heads > 0 && width % heads == 0 ? width / heads
            : throw new RewriteException($"{n}: query width {width} is not a multiple of {heads} heads");
    }

    /// <param name="full">The shared (B,1,T,T) bias and keep, or null with <paramref name="blocked"/>.</param>
    private static void LowerGqa(GraphBuilder b, Node n, long d, (string Bias, string Keep)? full, BlockedAttention.Masks? blocked, ElementType computeType)
    {
        bool rotary = n.GetInt("do_rotary", 0) == 1;
        if (rotary && n.GetInt("rotary_interleaved", 0) != 0)
        {
            throw new RewriteException($"{n}: interleaved rotary (rotary_interleaved=1) is not supported");
        }
        if (n.GetInt("local_window_size", -1) != -1 || n.GetFloat("softcap", 0f) != 0f)
        {
            throw new RewriteException($"{n}: local_window_size/softcap are not supported");
        }
        bool packed = n.Input(1).Length == 0 && n.Input(2).Length == 0;
        if (!packed && (n.Input(1).Length == 0 || n.Input(2).Length == 0))
        {
            throw new RewriteException($"{n}: key and value must both be given, or both be empty (packed QKV in the query input)");
        }
        foreach (var o in n.Outputs.Skip(1))
        {
            if (o.Length > 0 && b.Graph.Outputs.Any(x => x.Name == o))
            {
                throw new RewriteException($"{n}: present output '{o}' is still a graph output; run KvCacheRemoval first");
            }
        }
        long h = n.GetInt("num_heads", 0), kvh = n.GetInt("kv_num_heads", 0);
        if (h <= 0 || kvh <= 0 || h % kvh != 0)
        {
            throw new RewriteException($"{n}: num_heads {h} / kv_num_heads {kvh} are invalid");
        }
        var cosCache = n.Input(7);
        var sinCache = n.Input(8);
        float scale = n.GetFloat("scale", 0f);
        if (scale == 0f)
        {
            scale = 1f / MathF.Sqrt(d);
        }

        string qIn = n.Input(0), kIn = n.Input(1), vIn = n.Input(2);
        if (packed)
        {
            // The builder's packed QKV (B,T,(H+2K)·d): columns [q | k | v].
            var parts = b.Split(qIn, -1, h * d, kvh * d, kvh * d);
            (qIn, kIn, vIn) = (parts[0], parts[1], parts[2]);
        }
        var q = b.Transpose(b.Reshape(qIn, 0, 0, h, d), 0, 2, 1, 3); // (B,H,T,d)
        var k = b.Transpose(b.Reshape(kIn, 0, 0, kvh, d), 0, 2, 1, 3); // (B,K,T,d)
        var v = b.Transpose(b.Reshape(vIn, 0, 0, kvh, d), 0, 2, 1, 3); // (B,K,T,d)
        if (rotary)
        {
            var (cos, sin) = PositionTables(b, qIn, cosCache, sinCache, axisOfT: 1); // (T,d/2)
            q = Rotate(b, q, cos, sin, d);
            k = Rotate(b, k, cos, sin, d);
        }
        // The (B,H,T,T) chain and the repeated k/v are marked recomputable: training recomputes them from q,
        // k, v and the mask in the backward pass instead of keeping each layer's copies alive until then.
        var r = new GraphBuilder(b.Graph, b.Scope + Recomputation.Scope);
        // The scale goes on q (B,H,T,d), not on the (B,H,T,T) scores: one pass over T² less forward and
        // backward. Exact when the scale is a power of two (head dims 16, 64, 256); else within an ulp.
        q = b.Mul(q, Scalar(b, scale, computeType));
        string Repeat(GraphBuilder rb, string x) => h == kvh ? x : RepeatKv(rb, x, h, kvh, d);
        string ctx, keep;
        if (blocked is { } masks)
        {
            ctx = BlockedAttention.Attend(b, r, masks, q, k, v, h, kvh, d, Repeat, computeType); // (B,H,T,d)
            keep = masks.Keep;
        }
        else
        {
            var (mask, fullKeep) = full ?? throw new ArgumentNullException(nameof(full));
            k = Repeat(r, k);
            v = Repeat(r, v);
            var scores = r.MatMul(q, r.Transpose(k, 0, 1, 3, 2)); // (B,H,T,T)
            if (computeType != ElementType.Float)
            {
                scores = r.Cast(scores, ElementType.Float);
            }
            var masked = r.Add(scores, mask); // (B,H,T,T) + (B,1,T,T)
            var probs = r.Softmax(masked, -1); // (B,H,T,T)
            if (computeType != ElementType.Float)
            {
                probs = r.Cast(probs, computeType);
            }
            ctx = b.MatMul(probs, v); // (B,H,T,d)
            keep = fullKeep;
        }
        // A row with no visible key got a uniform P (all scores at min); SDPA gives it zeros, and so do we.
        b.NodeWithOutputs("Mul", [b.Reshape(b.Transpose(ctx, 0, 2, 1, 3), 0, 0, h * d), keep], [n.Outputs[0]]); // (B,T,H·d)
    }

    /// <summary>The last-axis width of a projection output: a MatMul's weight columns, through bias Adds, Casts and RotaryEmbedding.</summary>
    private static long? WidthOf(Graph g, string value)
    {
        var producers = g.ProducerIndex();
        for (int hops = 0; hops < 8 && producers.TryGetValue(value, out var p); hops++)
        {
            if (p.OpType == "MatMul" && g.Initializers.TryGetValue(p.Input(1), out var w) && w.Dims.Length == 2)
            {
                return w.Dims[1];
            }
            if (p.OpType is not ("Add" or "Cast" or "RotaryEmbedding" or "Identity"))
            {
                return null;
            }
            value = p.Input(0);
        }
        return null;
    }

    private static string Scalar(GraphBuilder b, float value, ElementType type) =>
        type == ElementType.Float ? b.Scalar(value) : b.Cast(b.Scalar(value), type);

    /// <summary>cos/sin rows 0..T-1 of the caches, T read from <paramref name="seqSource"/>'s axis.</summary>
    private static (string Cos, string Sin) PositionTables(GraphBuilder b, string seqSource, string cosCache, string sinCache, long axisOfT)
    {
        var t = b.Shape(seqSource, axisOfT, axisOfT + 1); // [T]
        var cos = b.Op("Slice", cosCache, b.Ints(0), t, b.Ints(0));
        var sin = b.Op("Slice", sinCache, b.Ints(0), t, b.Ints(0));
        return (cos, sin);
    }

    /// <summary>Half rotation: [x1·cos − x2·sin, x2·cos + x1·sin] over the last axis (…,T,d).</summary>
    private static string Rotate(GraphBuilder b, string x, string cos, string sin, long d)
    {
        var halves = b.Split(x, -1, d / 2, d / 2);
        var first = b.Sub(b.Mul(halves[0], cos), b.Mul(halves[1], sin));
        var second = b.Add(b.Mul(halves[1], cos), b.Mul(halves[0], sin));
        return b.Concat(-1, first, second);
    }

    /// <summary>(B,K,T,d) → (B,H,T,d), each kv head repeated H/K times in a row (transformers' repeat_kv).</summary>
    private static string RepeatKv(GraphBuilder b, string x, long h, long kvh, long d)
    {
        var expanded = b.Expand(b.Unsqueeze(x, 2), b.Ints(1, 1, h / kvh, 1, 1)); // (B,K,H/K,T,d)
        return b.Reshape(expanded, 0, h, -1, d);
    }

    private static void LowerRotary(GraphBuilder b, Node n)
    {
        if (n.GetInt("interleaved", 0) != 0)
        {
            throw new RewriteException($"{n}: interleaved rotary is not supported");
        }
        if (n.GetInt("rotary_embedding_dim", 0) != 0)
        {
            throw new RewriteException($"{n}: partial rotary (rotary_embedding_dim) is not supported");
        }
        // RotaryEmbedding(input (B,T,H·d) or (B,H,T,d), position_ids, cos_cache, sin_cache). ORT tells the two
        // layouts apart by rank; num_heads may be 0 with a 3-D input (the GenAI builder's full-rotary form), as
        // ORT then infers H = H·d / d. We read the rank from the declared shapes, else from num_heads > 0.
        long heads = n.GetInt("num_heads", 0);
        if (!b.Graph.Initializers.TryGetValue(n.Input(2), out var cosInit))
        {
            throw new RewriteException($"{n}: cos_cache '{n.Input(2)}' is not an initializer");
        }
        long d = cosInit.Dims[1] * 2;
        int? rank = DeclaredRank(b.Graph, n.Input(0)) ?? DeclaredRank(b.Graph, n.Outputs[0]) ?? (heads > 0 ? 3 : ProjectionRank(b.Graph, n.Input(0)));
        if (rank is null)
        {
            throw new RewriteException($"{n}: cannot tell whether input '{n.Input(0)}' is (B,T,H·d) or (B,H,T,d): no declared shape and num_heads = 0");
        }
        if (rank is not (null or 3 or 4))
        {
            throw new RewriteException($"{n}: input '{n.Input(0)}' has rank {rank}; RotaryEmbedding takes (B,T,H·d) or (B,H,T,d)");
        }
        var cos = b.Gather(n.Input(2), n.Input(1)); // (B,T,d/2)
        var sin = b.Gather(n.Input(3), n.Input(1));
        if (rank == 3)
        {
            var x = b.Transpose(b.Reshape(n.Input(0), 0, 0, -1, d), 0, 2, 1, 3); // (B,H,T,d)
            var r = Rotate(b, x, b.Unsqueeze(cos, 1), b.Unsqueeze(sin, 1), d);
            b.NodeWithOutputs("Reshape", [b.Transpose(r, 0, 2, 1, 3), b.Ints(0, 0, -1)], [n.Outputs[0]]);
        }
        else
        {
            var r = Rotate(b, n.Input(0), b.Unsqueeze(cos, 1), b.Unsqueeze(sin, 1), d);
            b.NodeWithOutputs("Identity", [r], [n.Outputs[0]]);
        }
    }

    /// <summary>3 when <paramref name="value"/> is a linear projection's output (MatMul with a 2-D weight, maybe plus a bias): (B,T,H·d).</summary>
    private static int? ProjectionRank(Graph g, string value) => WidthOf(g, value) is null ? null : 3;

    /// <summary>The rank <paramref name="value"/> is declared with (graph input/output or value_info), if any.</summary>
    private static int? DeclaredRank(Graph g, string value)
    {
        var info = g.Inputs.Concat(g.Outputs).Concat(g.Extra.ValueInfo).FirstOrDefault(v => v.Name == value);
        return info?.Type?.TensorType?.Shape is { } shape ? shape.Dim.Count : null;
    }
}
