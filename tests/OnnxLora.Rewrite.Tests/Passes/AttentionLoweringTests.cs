// AttentionLowering against ORT's own kernels on the same inputs: a GroupQueryAttention node wired as the
// GenAI model builder wires it (seqlens_k/total_sequence_length from attention_mask, empty past, fused
// rotary) in fp32 and fp16 with right padding, separate or packed q/k/v, and RotaryEmbedding with 3-D and 4-D
// inputs; plus the node kinds the pass refuses. Left padding is ORT GQA's blind spot: there the lowered graph's
// rule (a pad query outputs zeros, SDPA semantics) is checked directly, and its parity in LeftPaddingParityTests.
// B=batch, T=time, H=heads, K=kv heads, d=head dim.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class AttentionLoweringTests
{
    /// <summary>Lowered vs ORT kernel, fp32: both sum T·d products in float32 in different orders (observed ~1e-7).</summary>
    private const double Fp32Tolerance = 1e-5;

    /// <summary>fp16: two float16 ulps at the outputs' magnitude (|out| &lt; 1); the kernels round at different points (observed 2.4e-4).</summary>
    private const double Fp16Tolerance = 1e-3;

    private const int B = 2, T = 7, H = 4, K = 2, D = 16, MaxPositions = 32;

    /// <summary>Row 0 is full; row 1 is right-padded after 4 tokens (the padding GenAI's GQA understands).</summary>
    private static readonly long[] s_mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];

    [Theory]
    [InlineData(ElementType.Float, Fp32Tolerance)]
    [InlineData(ElementType.Float16, Fp16Tolerance)]
    public void LoweredGroupQueryAttentionMatchesOrtKernelOnUnpaddedPositions(ElementType dtype, double tolerance)
    {
        var q = OrtGraphRunner.Random(1, B * T * H * D);
        var k = OrtGraphRunner.Random(2, B * T * K * D);
        var v = OrtGraphRunner.Random(3, B * T * K * D);
        var feeds = new List<Feed>
        {
            Input("query", q, dtype, B, T, H * D), Input("key", k, dtype, B, T, K * D), Input("value", v, dtype, B, T, K * D),
            new("attention_mask", s_mask, [B, T]),
        };
        var withPast = feeds.Concat(
        [
            Input("past_key_values.0.key", [], dtype, B, K, 0, D), Input("past_key_values.0.value", [], dtype, B, K, 0, D),
        ]).ToList();
        var expected = OrtGraphRunner.Run(GqaGraph(dtype), withPast, "attn")["attn"]; // (B,T,H·d)

        var lowered = GqaGraph(dtype);
        Assert.True(KvCacheRemoval.Run(lowered).Modified);
        Assert.True(AttentionLowering.Run(lowered, computeType: dtype).Modified);
        Assert.DoesNotContain(lowered.Graph.Nodes, n => n.Domain == Model.MicrosoftDomain);
        var actual = OrtGraphRunner.Run(lowered, feeds, "attn")["attn"];

        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual, i => s_mask[i / (H * D)] != 0);
        Assert.True(diff <= tolerance, $"{dtype}: lowered vs ORT GroupQueryAttention max |Δ| {diff:E2} > {tolerance:E0}");
        Assert.All(actual, x => Assert.True(float.IsFinite(x), "a padded position produced a non-finite value"));
    }

    /// <summary>(B,T,H·d) with num_heads given or 0 (the GenAI builder's full-rotary form: ORT infers H), and (B,H,T,d).</summary>
    [Theory]
    [InlineData(3, H)]
    [InlineData(3, 0)]
    [InlineData(4, 0)]
    public void LoweredRotaryEmbeddingMatchesOrtKernel(int rank, long numHeads)
    {
        var x = OrtGraphRunner.Random(4, B * T * H * D);
        long[] positions = [.. Enumerable.Range(3, T).Select(p => (long)p), .. Enumerable.Range(0, T).Select(p => (long)(2 * p))];
        long[] shape = rank == 3 ? [B, T, H * D] : [B, H, T, D];
        var feeds = new List<Feed> { new("x", x, shape), new("position_ids", positions, [B, T]) };
        var expected = OrtGraphRunner.Run(RotaryGraph(shape, numHeads), feeds, "rotated")["rotated"];

        var lowered = RotaryGraph(shape, numHeads);
        Assert.True(AttentionLowering.Run(lowered).Modified);
        Assert.DoesNotContain(lowered.Graph.Nodes, n => n.OpType == "RotaryEmbedding");
        var actual = OrtGraphRunner.Run(lowered, feeds, "rotated")["rotated"];

        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual);
        Assert.True(diff <= Fp32Tolerance, $"rank {rank}, num_heads {numHeads}: lowered vs ORT RotaryEmbedding max |Δ| {diff:E2}");
        Assert.True(OrtGraphRunner.MaxAbsDiff(x, actual) > 0.1, "rotation left the input unchanged; the check would be vacuous");
    }

    [Fact]
    public void GraphWithoutContribAttentionIsLeftUnmodified()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 2));
        g.AddNode(new Node("Relu", "relu", ["x"], ["y"]));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, 2));
        var m = new Model(g);
        Assert.False(AttentionLowering.Run(m).Modified);
        Assert.Single(m.Graph.Nodes);
    }

    /// <summary>The model builder's default: q|k|v packed in the query input (B,T,(H+2K)·d), key and value empty.</summary>
    [Theory]
    [InlineData(ElementType.Float, Fp32Tolerance)]
    [InlineData(ElementType.Float16, Fp16Tolerance)]
    public void LoweredPackedQkvMatchesOrtKernel(ElementType dtype, double tolerance)
    {
        var qkv = OrtGraphRunner.Random(5, B * T * (H + 2 * K) * D);
        var feeds = new List<Feed> { Input("query", qkv, dtype, B, T, (H + 2 * K) * D), new("attention_mask", s_mask, [B, T]) };
        var withPast = feeds.Concat(
        [
            Input("past_key_values.0.key", [], dtype, B, K, 0, D), Input("past_key_values.0.value", [], dtype, B, K, 0, D),
        ]).ToList();
        var expected = OrtGraphRunner.Run(PackedGqaGraph(dtype), withPast, "attn")["attn"];

        var lowered = PackedGqaGraph(dtype);
        KvCacheRemoval.Run(lowered);
        Assert.True(AttentionLowering.Run(lowered, computeType: dtype).Modified);
        Assert.Contains(lowered.Graph.Nodes, n => n.OpType == "Split");
        var actual = OrtGraphRunner.Run(lowered, feeds, "attn")["attn"];

        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual, i => s_mask[i / (H * D)] != 0);
        Assert.True(diff <= tolerance, $"{dtype}: lowered vs ORT packed GroupQueryAttention max |Δ| {diff:E2} > {tolerance:E0}");
    }

    /// <summary>Left padding: a pad query sees no key; SDPA (and transformers 5) output zeros there, not an average of the values.</summary>
    [Fact]
    public void QueryRowThatSeesNoKeyOutputsZeros()
    {
        long[] leftPadded = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1];
        var feeds = new List<Feed>
        {
            new("query", OrtGraphRunner.Random(1, B * T * H * D), [B, T, H * D]), new("key", OrtGraphRunner.Random(2, B * T * K * D), [B, T, K * D]),
            new("value", OrtGraphRunner.Random(3, B * T * K * D), [B, T, K * D]), new("attention_mask", leftPadded, [B, T]),
        };
        var lowered = GqaGraph(ElementType.Float);
        KvCacheRemoval.Run(lowered);
        AttentionLowering.Run(lowered);
        var actual = OrtGraphRunner.Run(lowered, feeds, "attn")["attn"]; // (B,T,H·d)
        for (int row = 0; row < B * T; row++)
        {
            var values = actual.AsSpan(row * H * D, H * D);
            if (leftPadded[row] == 0)
            {
                Assert.All(values.ToArray(), x => Assert.Equal(0f, x));
            }
            else
            {
                Assert.Contains(values.ToArray(), x => x != 0f);
            }
        }
    }

    /// <summary>Blocked vs ORT's kernel (right padding): 2 and 3 blocks (uneven ⌊i·T/N⌋ bounds), T blocks (one row each), more blocks than rows (empty blocks).</summary>
    [Theory]
    [InlineData(ElementType.Float, Fp32Tolerance, 2)]
    [InlineData(ElementType.Float, Fp32Tolerance, 3)]
    [InlineData(ElementType.Float, Fp32Tolerance, T)]
    [InlineData(ElementType.Float, Fp32Tolerance, 12)]
    [InlineData(ElementType.Float16, Fp16Tolerance, 3)]
    public void BlockedAttentionMatchesOrtKernelOnUnpaddedPositions(ElementType dtype, double tolerance, int blocks)
    {
        var feeds = new List<Feed>
        {
            Input("query", OrtGraphRunner.Random(1, B * T * H * D), dtype, B, T, H * D), Input("key", OrtGraphRunner.Random(2, B * T * K * D), dtype, B, T, K * D),
            Input("value", OrtGraphRunner.Random(3, B * T * K * D), dtype, B, T, K * D), new("attention_mask", s_mask, [B, T]),
        };
        var withPast = feeds.Concat(
        [
            Input("past_key_values.0.key", [], dtype, B, K, 0, D), Input("past_key_values.0.value", [], dtype, B, K, 0, D),
        ]).ToList();
        var expected = OrtGraphRunner.Run(GqaGraph(dtype), withPast, "attn")["attn"];

        var blocked = GqaGraph(dtype);
        KvCacheRemoval.Run(blocked);
        Assert.True(AttentionLowering.Run(blocked, computeType: dtype, queryBlocks: blocks).Modified);
        Assert.Equal(blocks, blocked.Graph.Nodes.Count(n => n.OpType == "Softmax"));
        var actual = OrtGraphRunner.Run(blocked, feeds, "attn")["attn"];

        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual, i => s_mask[i / (H * D)] != 0);
        Assert.True(diff <= tolerance, $"{dtype}, {blocks} blocks: blocked vs ORT GroupQueryAttention max |Δ| {diff:E2} > {tolerance:E0}");
    }

    /// <summary>
    /// Left padding (row 0) and packed segments with right padding (row 1, ids 1,1,1,2,2,0,0): blocked equals the full
    /// lowering at every position, pad rows included (zeros where a row sees no key).
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void BlockedAttentionEqualsFullWithLeftPaddingAndPackedSegments(int blocks)
    {
        long[] mask = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 0, 0];
        var feeds = new List<Feed>
        {
            new("query", OrtGraphRunner.Random(1, B * T * H * D), [B, T, H * D]), new("key", OrtGraphRunner.Random(2, B * T * K * D), [B, T, K * D]),
            new("value", OrtGraphRunner.Random(3, B * T * K * D), [B, T, K * D]), new("attention_mask", mask, [B, T]),
        };
        var full = GqaGraph(ElementType.Float);
        KvCacheRemoval.Run(full);
        AttentionLowering.Run(full);
        var blocked = GqaGraph(ElementType.Float);
        KvCacheRemoval.Run(blocked);
        AttentionLowering.Run(blocked, queryBlocks: blocks);
        var expected = OrtGraphRunner.Run(full, feeds, "attn")["attn"];
        var actual = OrtGraphRunner.Run(blocked, feeds, "attn")["attn"];

        Assert.True(OrtGraphRunner.MaxAbsDiff(expected, actual) <= Fp32Tolerance, $"{blocks} blocks: blocked vs full max |Δ| {OrtGraphRunner.MaxAbsDiff(expected, actual):E2}");
        for (int row = 0; row < B * T; row++)
        {
            if (mask[row] == 0)
            {
                Assert.All(actual.AsSpan(row * H * D, H * D).ToArray(), x => Assert.Equal(0f, x));
            }
        }
    }

    [Fact]
    public void RefusesZeroQueryBlocks()
    {
        var m = GqaGraph(ElementType.Float);
        KvCacheRemoval.Run(m);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionLowering.Run(m, queryBlocks: 0));
    }

    /// <summary>The model builder's -e cpu -p fp16 attention: refused in one line naming the op and the option to re-export with.</summary>
    [Fact]
    public void RefusesMultiHeadAttentionNamingTheBuilderOption()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("q", ElementType.Float16, 1, 2, H * D));
        g.AddNode(new Node("MultiHeadAttention", "/model/layers.0/attn/MultiHeadAttention", ["q", "q", "q"], ["o"], Model.MicrosoftDomain));
        g.Outputs.Add(Graph.MakeValueInfo("o", ElementType.Float16, 1, 2, H * D));
        var e = Assert.Throws<RewriteException>(() => AttentionLowering.Run(new Model(g)));
        Assert.Contains("MultiHeadAttention node '/model/layers.0/attn/MultiHeadAttention'", e.Message, StringComparison.Ordinal);
        Assert.Contains("-e cpu -p fp32", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void RefusesWhilePresentOutputsAreStillGraphOutputs()
    {
        var m = GqaGraph(ElementType.Float);
        var e = Assert.Throws<RewriteException>(() => AttentionLowering.Run(m));
        Assert.Contains("run KvCacheRemoval first", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// One GroupQueryAttention as the GenAI builder emits it: query/key/value (B,T,·), a KV cache, seqlens_k =
    /// sum(mask)−1 and total_sequence_length = mask.shape[1] as int32, fused non-interleaved rotary.
    /// </summary>
    private static Model GqaGraph(ElementType dtype)
    {
        var g = new Graph { Name = "gqa" };
        var b = new GraphBuilder(g);
        g.Inputs.Add(Graph.MakeValueInfo("query", dtype, "batch_size", "sequence_length", H * D));
        g.Inputs.Add(Graph.MakeValueInfo("key", dtype, "batch_size", "sequence_length", K * D));
        g.Inputs.Add(Graph.MakeValueInfo("value", dtype, "batch_size", "sequence_length", K * D));
        g.Inputs.Add(Graph.MakeValueInfo("attention_mask", ElementType.Int64, "batch_size", "total_sequence_length"));
        g.Inputs.Add(Graph.MakeValueInfo("past_key_values.0.key", dtype, "batch_size", K, "past_sequence_length", D));
        g.Inputs.Add(Graph.MakeValueInfo("past_key_values.0.value", dtype, "batch_size", K, "past_sequence_length", D));
        AddRopeCaches(g, dtype);
        var seqLens = b.Cast(b.Sub(b.ReduceSum("attention_mask", [1], keepDims: false), b.ScalarI64(1)), ElementType.Int32); // (B)
        var total = b.Cast(b.Gather(b.Shape("attention_mask"), b.ScalarI64(1)), ElementType.Int32); // scalar
        b.NodeWithOutputs("GroupQueryAttention",
            ["query", "key", "value", "past_key_values.0.key", "past_key_values.0.value", seqLens, total, "cos_cache", "sin_cache"],
            ["attn", "present.0.key", "present.0.value"], Model.MicrosoftDomain,
            ("num_heads", (long)H), ("kv_num_heads", (long)K), ("do_rotary", 1L), ("rotary_interleaved", 0L), ("scale", 1f / MathF.Sqrt(D)));
        g.Outputs.Add(Graph.MakeValueInfo("attn", dtype, "batch_size", "sequence_length", H * D));
        g.Outputs.Add(Graph.MakeValueInfo("present.0.key", dtype, "batch_size", K, "total_sequence_length", D));
        g.Outputs.Add(Graph.MakeValueInfo("present.0.value", dtype, "batch_size", K, "total_sequence_length", D));
        var m = new Model(g);
        m.EnsureOpset(Model.MicrosoftDomain, 1);
        return m;
    }

    /// <summary>The builder's packed form of <see cref="GqaGraph"/>: one query input (B,T,(H+2K)·d), key and value inputs empty.</summary>
    private static Model PackedGqaGraph(ElementType dtype)
    {
        var m = GqaGraph(dtype);
        var g = m.Graph;
        g.Inputs.RemoveAll(i => i.Name is "query" or "key" or "value");
        g.Inputs.Insert(0, Graph.MakeValueInfo("query", dtype, "batch_size", "sequence_length", (H + 2 * K) * D));
        var gqa = g.Nodes.Single(n => n.OpType == "GroupQueryAttention");
        gqa.Inputs[1] = "";
        gqa.Inputs[2] = "";
        return m;
    }

    /// <summary>One com.microsoft RotaryEmbedding on x (B,T,H·d) or (B,H,T,d) with explicit position_ids (B,T).</summary>
    private static Model RotaryGraph(long[] shape, long numHeads)
    {
        var g = new Graph { Name = "rotary" };
        var b = new GraphBuilder(g);
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, [.. shape.Select(d => (Dim)d)]));
        g.Inputs.Add(Graph.MakeValueInfo("position_ids", ElementType.Int64, B, T));
        AddRopeCaches(g, ElementType.Float);
        var attributes = new List<(string, object)> { ("interleaved", 0L) };
        if (numHeads > 0)
        {
            attributes.Add(("num_heads", numHeads));
        }
        b.NodeWithOutputs("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["rotated"], Model.MicrosoftDomain, [.. attributes]);
        g.Outputs.Add(Graph.MakeValueInfo("rotated", ElementType.Float, [.. shape.Select(d => (Dim)d)]));
        var m = new Model(g);
        m.EnsureOpset(Model.MicrosoftDomain, 1);
        return m;
    }

    /// <summary>cos/sin caches (MaxPositions, d/2) of a Llama with θ = 10000, in <paramref name="dtype"/>.</summary>
    private static void AddRopeCaches(Graph g, ElementType dtype)
    {
        var config = RandomLlama.Preset("tiny") with { HeadDim = D, RopeTheta = 10000, RopeScaling = null };
        var (cos, sin) = Rope.Caches(config, MaxPositions);
        foreach (var (name, values) in new[] { ("cos_cache", cos), ("sin_cache", sin) })
        {
            var init = Initializer.FromFloats(name, values, MaxPositions, D / 2);
            if (dtype != ElementType.Float)
            {
                var bytes = new byte[values.Length * dtype.SizeInBytes()];
                ElementConversion.FromFloat32(dtype, values, bytes);
                init = new Initializer(name, dtype, [MaxPositions, D / 2], TensorData.FromBytes(bytes));
            }
            g.AddInitializer(init);
        }
    }

    private static Feed Input(string name, float[] data, ElementType dtype, params long[] shape) =>
        dtype == ElementType.Float ? new Feed(name, data, shape) : new Feed(name, OrtGraphRunner.ToHalf(data), shape);
}
