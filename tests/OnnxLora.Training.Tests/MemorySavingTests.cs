// The memory savers of the training graph change what is stored, never what is computed:
// recomputed attention gives bit-identical loss and LoRA gradients, the chunked loss (with or
// without recomputed logits, with more chunks than tokens) matches the one-piece loss, and the
// backward pass reads none of the values it is meant to recompute. Every recomputed node is ordered
// after a gradient, so ORT cannot schedule it into the forward pass. Weight views leave no transposed weight
// copy to fold and give the folded form's gradients; sessions over SharedWeights compute what ORT's own loading does.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class MemorySavingTests
{
    /// <summary>Chunked vs one-piece loss, or weight views vs folded weight transposes: only summation order differs.</summary>
    private const double ChunkedRelativeTolerance = 1e-5;

    private const string GradScope = "/grad/";

    [Fact]
    public void RecomputedAttentionGivesBitIdenticalLossAndGradients()
    {
        var stored = Run(new TrainingGraphOptions { Recompute = false, LossChunks = 1 });
        var recomputed = Run(new TrainingGraphOptions { Recompute = true, LossChunks = 1 });
        Assert.Equal(stored.Keys.Order(), recomputed.Keys.Order());
        foreach (var (name, values) in stored)
        {
            Assert.Equal(values, recomputed[name]);
        }
    }

    [Theory]
    [InlineData(3, false)]
    [InlineData(3, true)]
    [InlineData(40, true)] // more chunks than the fixture's 16 positions: empty chunks
    public void ChunkedLossMatchesOnePieceLoss(int chunks, bool recomputeLogits)
    {
        var whole = Run(new TrainingGraphOptions { LossChunks = 1 });
        var chunked = Run(new TrainingGraphOptions { LossChunks = chunks, RecomputeLogits = recomputeLogits });
        foreach (var (name, values) in whole)
        {
            double scale = Math.Max(values.Max(Math.Abs), 1e-30);
            double err = values.Zip(chunked[name], (a, b) => (double)Math.Abs(a - b)).Max();
            Assert.True(err / scale <= ChunkedRelativeTolerance, $"{name}: max|Δ| {err:E2} relative {err / scale:E2} with {chunks} chunks");
        }
    }

    [Theory]
    [InlineData(Device.Cpu)]
    [InlineData(Device.Cuda)]
    public void Fp32GraphsReadWeightsThroughViewsAndGiveTheFoldedFormsGradients(Device device)
    {
        using (var source = ModelSource.Resolve(Fixture.Base))
        {
            var graph = Build(source, new TrainingGraphOptions { Device = device }).Model.Graph;
            // a Transpose of an initializer is what ORT would fold into a second, transposed copy of the weight
            Assert.DoesNotContain(graph.Nodes, n => n.OpType == "Transpose" && graph.IsInitializer(n.Input(0)));
            var folded = Build(source, new TrainingGraphOptions { Device = device, WeightViews = false }).Model.Graph;
            Assert.Contains(folded.Nodes, n => n.OpType == "Transpose" && folded.IsInitializer(n.Input(0)));
        }
        var views = Run(new TrainingGraphOptions { Device = device });
        var copies = Run(new TrainingGraphOptions { Device = device, WeightViews = false });
        foreach (var (name, values) in copies)
        {
            double scale = Math.Max(values.Max(Math.Abs), 1e-30);
            double err = values.Zip(views[name], (a, b) => (double)Math.Abs(a - b)).Max();
            Assert.True(err / scale <= ChunkedRelativeTolerance, $"{name}: max|Δ| {err:E2} relative {err / scale:E2}");
        }
    }

    [Fact]
    public void Fp16GraphsOnCpuKeepTheFoldedFormByDefault()
    {
        Assert.False(new TrainingGraphOptions().WeightViewsFor(ElementType.Float16));
        Assert.False(new TrainingGraphOptions().WeightViewsFor(ElementType.BFloat16));
        Assert.True(new TrainingGraphOptions { Device = Device.Cuda }.WeightViewsFor(ElementType.Float16));
        Assert.True(new TrainingGraphOptions { WeightViews = true }.WeightViewsFor(ElementType.Float16));
        Assert.False(new TrainingGraphOptions { WeightViews = false }.WeightViewsFor(ElementType.Float));
    }

    [Fact]
    public void SessionsOverSharedWeightsMapEachWeightOnceAndComputeWhatOrtLoadingThemComputes()
    {
        using var dir = new TempDir();
        using var source = ModelSource.Resolve(Fixture.Base);
        var graph = Build(source, new TrainingGraphOptions());
        ArtifactWriter.Save(graph.Model, dir["t/training_model.onnx"]);
        ArtifactWriter.Save(graph.Model, dir["u/training_model.onnx"]);
        var own = Run(dir["t/training_model.onnx"], graph, null);
        using var weights = new SharedWeights();
        var shared = Run(dir["t/training_model.onnx"], graph, weights);
        Assert.True(weights.Count > 0, "the fixture's weights are external data: each should be shared");
        int count = weights.Count;
        long bytes = weights.Bytes;
        // a second session over the same weights (as the evaluator's) maps nothing more
        var again = Run(dir["t/training_model.onnx"], graph, weights);
        Assert.Equal(count, weights.Count);
        Assert.Equal(bytes, weights.Bytes);
        foreach (var (name, values) in own)
        {
            Assert.Equal(values, shared[name]);
            Assert.Equal(values, again[name]);
        }
        // the same names over another data file are other weights: refused, naming the initializer and both files
        var e = Assert.Throws<InvalidDataException>(() => Run(dir["u/training_model.onnx"], graph, weights));
        Assert.Contains("model.embed_tokens.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BackwardReadsNoRecomputedForwardValueAndRecomputesAfterAGradient()
    {
        using var source = ModelSource.Resolve(Fixture.Base);
        var graph = Build(source, new TrainingGraphOptions { Recompute = true, LossChunks = 4, RecomputeLogits = true }).Model.Graph;
        var producers = graph.ProducerIndex();
        var marked = graph.Nodes.Where(n => Recomputation.IsMarked(n) && !IsBackward(n)).ToList();
        Assert.Contains(marked, n => n.OpType == "Softmax");
        Assert.Contains(marked, n => n.OpType == "MatMul" && n.Name.StartsWith("/loss/", StringComparison.Ordinal));
        var markedOutputs = marked.SelectMany(n => n.Outputs).ToHashSet(StringComparer.Ordinal);
        foreach (var n in graph.Nodes.Where(IsBackward))
        {
            Assert.DoesNotContain(n.Inputs, markedOutputs.Contains);
        }
        var copies = graph.Nodes.Where(n => IsBackward(n) && n.Name.Contains("/recompute/", StringComparison.Ordinal)).ToList();
        Assert.Equal(marked.Count(n => n.OpType == "Softmax"), copies.Count(n => n.OpType == "Softmax"));
        foreach (var copy in copies)
        {
            Assert.True(DependsOnAGradient(copy, producers), $"{copy} could run in the forward pass: no gradient among its inputs' producers");
        }
    }

    [Fact]
    public void Fp16CastGradientsDoNotKeepForwardActivations()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["f16"], ElementType.Float16);
        using var source = ModelSource.Resolve(dir["f16"]);
        var graph = Build(source, new TrainingGraphOptions { Recompute = false, LossChunks = 1, LossScaling = true }).Model.Graph;
        var producers = graph.ProducerIndex();
        // CastLike(x, like) keeps `like` alive; a forward activation there would be stored for the backward pass
        var offenders = graph.Nodes.Where(n => n.OpType == "CastLike" && producers.TryGetValue(n.Input(1), out var p) && !IsBackward(p)
            && p.OpType != "Constant").ToList();
        Assert.True(offenders.Count == 0, "CastLike reads forward values: " + string.Join(", ", offenders.Select(n => n.Input(1))));
    }

    [Fact]
    public void BackwardKeepsNoRecomputableValueAndLessThanWithoutRecomputation()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["f16"], ElementType.Float16);
        using var source = ModelSource.Resolve(dir["f16"]);
        var dims = new Dictionary<string, long> { ["batch_size"] = 8, ["sequence_length"] = 1024, ["total_sequence_length"] = 1024 };
        var lean = Build(source, new TrainingGraphOptions { LossChunks = 4, RecomputeLogits = true, LossScaling = true }).Model;
        var kept = Build(source, new TrainingGraphOptions { Recompute = false, LossChunks = 1, LossScaling = true }).Model;
        var saved = OnnxLora.Autodiff.SavedActivations.Of(lean, dims);
        var producers = lean.Graph.ProducerIndex();
        Assert.DoesNotContain(saved.Tensors, t => Recomputation.IsMarked(producers[t.Name]));
        // SiLU's sigmoid and product, RMSNorm's square, attention's scores/probabilities: none of them kept
        Assert.DoesNotContain(saved.Tensors, t => producers[t.Name].OpType is "Sigmoid" or "Softmax");
        Assert.DoesNotContain(saved.Tensors, t => producers[t.Name] is { OpType: "Mul" } m && m.Input(0) == m.Input(1));
        long before = OnnxLora.Autodiff.SavedActivations.Of(kept, dims).TotalBytes;
        Assert.True(saved.TotalBytes * 3 < before, $"saved {saved.TotalBytes:N0} bytes with recomputation vs {before:N0} without");
    }

    private static bool IsBackward(Node n) => n.Name.StartsWith(GradScope, StringComparison.Ordinal);

    /// <summary>True when some ancestor of <paramref name="node"/> is a backward node outside the recompute chains.</summary>
    private static bool DependsOnAGradient(Node node, Dictionary<string, Node> producers)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>([node]);
        while (stack.TryPop(out var n))
        {
            foreach (var i in n.Inputs)
            {
                if (!producers.TryGetValue(i, out var p) || !seen.Add(p))
                {
                    continue;
                }
                if (IsBackward(p) && !p.Name.Contains("/recompute/", StringComparison.Ordinal) && p.OpType is not ("Shape" or "Size" or "Add" or "Mul" or "Reshape"))
                {
                    return true;
                }
                stack.Push(p);
            }
        }
        return false;
    }

    /// <summary>The graph references the model's external data: keep <paramref name="source"/> open while using it.</summary>
    private static TrainingGraph Build(ModelSource source, TrainingGraphOptions o) =>
        TrainingGraph.Build(ModelReader.Load(source.ModelPath), o with { Lora = PeftAdapter.Load(Fixture.Adapter).Settings });

    /// <summary>Loss and every LoRA gradient for the fixture batch and adapter.</summary>
    private static Dictionary<string, float[]> Run(TrainingGraphOptions o)
    {
        using var dir = new TempDir();
        using var source = ModelSource.Resolve(Fixture.Base);
        var graph = Build(source, o);
        ArtifactWriter.Save(graph.Model, dir["t/training_model.onnx"]);
        return Run(dir["t/training_model.onnx"], graph, null);
    }

    /// <summary>Loss and every LoRA gradient of the saved <paramref name="graph"/>, over shared weights when given.</summary>
    private static Dictionary<string, float[]> Run(string path, TrainingGraph graph, SharedWeights? weights)
    {
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var b = ParityBatch.Load(Fixture.Reference);
        using var session = weights is null ? new InferenceSession(path) : SessionFactory.Create(path, new RuntimeOptions(), weights);
        return GraphGradients.Run(session, graph, adapter, b.InputIds, b.AttentionMask, b.Labels!, b.Batch, b.Time);
    }
}
