// KvCacheRemoval on a GenAI-layout decoder (GenAiLlamaGraph, the builder's layout): past_key_values.* inputs and
// present.* outputs go, attention_mask takes input_ids' (batch_size, sequence_length), and after attention
// lowering the graph runs on input_ids + attention_mask alone and gives the cached graph's logits.
// Graphs without a cache, or whose mask is not over total_sequence_length, are left as they are.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class KvCacheRemovalTests
{
    /// <summary>fp32 logits of the cached (ORT GQA) and the lowered graph: same math, different summation order (observed 1.3e-6).</summary>
    private const double LogitsTolerance = 1e-4;

    private static readonly LlamaConfig s_config = RandomLlama.Preset("tiny") with
    {
        VocabSize = 96, HiddenSize = 64, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 16, MaxPositionEmbeddings = 64,
    };

    [Fact]
    public void RemovesCacheInputsAndOutputsAndTiesMaskToInputIds()
    {
        var m = Decoder();
        var r = KvCacheRemoval.Run(m);
        Assert.True(r.Modified);
        var g = m.Graph;
        Assert.Equal(["input_ids", "attention_mask"], g.Inputs.Select(i => i.Name));
        Assert.Equal(["logits"], g.Outputs.Select(o => o.Name));
        var mask = Graph.TypeOf(g.Inputs[1]);
        Assert.Equal(ElementType.Int64, mask.Element);
        Assert.Equal(Graph.TypeOf(g.Inputs[0]).Shape, mask.Shape); // (batch_size, sequence_length)
        Assert.False(KvCacheRemoval.Run(m).Modified);
    }

    [Fact]
    public void LoweredGraphRunsWithoutCacheAndKeepsLogits()
    {
        long[] ids = [1, 5, 9, 33, 70, 7, 2, 11, 4, 60];
        long[] mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        int b = 2, t = ids.Length / 2;
        var cached = Decoder();
        var feeds = new List<Feed> { new("input_ids", ids, [b, t]), new("attention_mask", mask, [b, t]) };
        var past = Enumerable.Range(0, s_config.NumHiddenLayers).SelectMany(i => new[] { GenAiNames.PastKey(i), GenAiNames.PastValue(i) })
            .Select(n => new Feed(n, Array.Empty<float>(), [b, s_config.NumKeyValueHeads, 0, s_config.HeadDim]));
        var expected = OrtGraphRunner.Run(cached, [.. feeds, .. past], "logits")["logits"]; // (B,T,V)

        var lowered = Decoder();
        KvCacheRemoval.Run(lowered);
        AttentionLowering.Run(lowered);
        lowered.Graph.RemoveDeadNodes();
        var actual = OrtGraphRunner.Run(lowered, feeds, "logits")["logits"];

        Assert.Equal(b * t * s_config.VocabSize, actual.Length);
        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual);
        Assert.True(diff <= LogitsTolerance, $"logits without cache differ by {diff:E2}");
    }

    [Fact]
    public void GraphWithoutCacheIsLeftUnmodified()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("input_ids", ElementType.Int64, "batch", "seq"));
        g.Inputs.Add(Graph.MakeValueInfo("attention_mask", ElementType.Int64, "batch", "seq"));
        g.AddNode(new Node("Identity", "id", ["input_ids"], ["out"]));
        g.Outputs.Add(Graph.MakeValueInfo("out", ElementType.Int64, "batch", "seq"));
        var m = new Model(g);
        Assert.False(KvCacheRemoval.Run(m).Modified);
        Assert.Equal(2, g.Inputs.Count);
    }

    [Fact]
    public void MaskNotOverTotalSequenceLengthKeepsItsShape()
    {
        var m = Decoder();
        var g = m.Graph;
        int i = g.Inputs.FindIndex(x => x.Name == "attention_mask");
        g.Inputs[i] = Graph.MakeValueInfo("attention_mask", ElementType.Int64, "batch_size", "mask_length");
        Assert.True(KvCacheRemoval.Run(m).Modified);
        Assert.Equal("mask_length", Graph.TypeOf(g.FindInput("attention_mask")!).Shape[1].Symbol);
    }

    /// <summary>A 2-layer fp32 decoder in the GenAI layout with small random weights.</summary>
    private static Model Decoder()
    {
        int seed = 0;
        return GenAiLlamaGraph.Build(s_config, ElementType.Float, (name, shape) =>
        {
            int count = (int)shape.Aggregate(1L, (a, d) => a * d);
            var values = shape.Length == 1
                ? OrtGraphRunner.Random(seed++, count, 0.1f).Select(x => 1 + x).ToArray() // norm weights near 1
                : OrtGraphRunner.Random(seed++, count, 0.2f);
            return Initializer.FromFloats(name, values, shape);
        });
    }
}
