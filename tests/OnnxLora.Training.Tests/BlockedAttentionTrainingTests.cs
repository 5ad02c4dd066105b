// Blocked (query-block) attention in the training graph computes what the full (B,H,T,T) form computes:
// loss and every LoRA gradient of the fixture, with left padding and with packed segments, for even,
// uneven and more-blocks-than-rows splits; and its graph stays static-shaped (no NonZero, every saved
// tensor sized) while keeping no more for backward than the full form.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Autodiff;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Passes;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class BlockedAttentionTrainingTests
{
    /// <summary>Blocked vs full differ only in MatMul summation lengths over exact zeros (observed ≤ 1e-7 relative).</summary>
    private const double RelativeTolerance = 1e-5;

    public enum Batch { Fixture, LeftPadded, PackedSegments }

    [Theory]
    [InlineData(2, Batch.Fixture)]
    [InlineData(3, Batch.Fixture)]
    [InlineData(40, Batch.Fixture)] // more blocks than the fixture's 16 positions: empty blocks
    [InlineData(4, Batch.LeftPadded)]
    [InlineData(3, Batch.PackedSegments)]
    public void BlockedAttentionGivesTheFullAttentionLossAndGradients(int blocks, Batch batch)
    {
        var full = Run(new TrainingGraphOptions(), batch);
        var blocked = Run(new TrainingGraphOptions { AttentionBlocks = blocks }, batch);
        Assert.Equal(full.Keys.Order(), blocked.Keys.Order());
        foreach (var (name, values) in full)
        {
            double scale = Math.Max(values.Max(Math.Abs), 1e-30);
            double err = values.Zip(blocked[name], (a, b) => (double)Math.Abs(a - b)).Max();
            Assert.True(err / scale <= RelativeTolerance, $"{name}: max|Δ| {err:E2} relative {err / scale:E2} with {blocks} blocks, {batch}");
        }
    }

    [Fact]
    public void BlockedTrainingGraphIsStaticShapedAndKeepsNoMoreThanTheFullForm()
    {
        const int blocks = 4;
        const long t = 1024;
        using var source = ModelSource.Resolve(Fixture.Base);
        var dims = new Dictionary<string, long> { ["batch_size"] = 8, ["sequence_length"] = t, ["total_sequence_length"] = t };
        var full = Build(source, new TrainingGraphOptions()).Model;
        var blocked = Build(source, new TrainingGraphOptions { AttentionBlocks = blocks }).Model;
        Assert.DoesNotContain(blocked.Graph.Nodes, n => n.OpType == "NonZero");
        // 2 layers: one Softmax per block instead of one per layer, forward and recomputed in backward
        Assert.Equal(2 * 2 * (blocks - 1), blocked.Graph.Nodes.Count(n => n.OpType == "Softmax") - full.Graph.Nodes.Count(n => n.OpType == "Softmax"));
        foreach (var (symbol, size) in BlockedAttention.BlockDims(t, blocks))
        {
            dims[symbol] = size;
        }
        var savedFull = SavedActivations.Of(full, dims);
        var savedBlocked = SavedActivations.Of(blocked, dims);
        // the loss's own int64 (2) sizes; every attention value is sized, the full form's (B,T,T) mask too
        Assert.Equal(["/loss/Concat/output_0"], savedBlocked.Unsized);
        Assert.Equal(["/loss/Concat/output_0"], savedFull.Unsized);
        Assert.True(savedBlocked.TotalBytes <= savedFull.TotalBytes,
            $"blocked keeps {savedBlocked.TotalBytes:N0} bytes for backward, full {savedFull.TotalBytes:N0}");
        // nothing of (T,T) per batch row or head is kept: the largest saved tensor is one activation (B,T,·)
        Assert.All(savedBlocked.Tensors, s => Assert.True(s.Shape.Count(x => x == t) <= 1, $"{s.Name} [{string.Join(",", s.Shape)}] is kept"));
    }

    /// <summary>The graph references the model's external data: keep <paramref name="source"/> open while using it.</summary>
    private static TrainingGraph Build(ModelSource source, TrainingGraphOptions o) =>
        TrainingGraph.Build(ModelReader.Load(source.ModelPath), o with { Lora = PeftAdapter.Load(Fixture.Adapter).Settings });

    /// <summary>Loss and every LoRA gradient for the fixture's batch (tokens, labels) under the given mask.</summary>
    private static Dictionary<string, float[]> Run(TrainingGraphOptions o, Batch kind)
    {
        using var dir = new TempDir();
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        using var source = ModelSource.Resolve(Fixture.Base);
        var graph = Build(source, o);
        ArtifactWriter.Save(graph.Model, dir["t/training_model.onnx"]);
        var b = ParityBatch.Load(Fixture.Reference);
        var mask = (long[])b.AttentionMask.Clone();
        var labels = (long[])b.Labels!.Clone();
        if (kind == Batch.LeftPadded)
        {
            for (int j = 0; j < 5; j++)
            {
                mask[b.Time + j] = 0; // row 1: 5 left pads
                labels[b.Time + j] = -100;
            }
        }
        else if (kind == Batch.PackedSegments)
        {
            for (int j = 0; j < b.Time; j++)
            {
                mask[j] = j < 7 ? 1 : 2; // row 0: two examples packed, 7 + 9 tokens
            }
        }
        using var session = new InferenceSession(dir["t/training_model.onnx"]);
        return GraphGradients.Run(session, graph, adapter, b.InputIds, mask, labels, b.Batch, b.Time);
    }
}
