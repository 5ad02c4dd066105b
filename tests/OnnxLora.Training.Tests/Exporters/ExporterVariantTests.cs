// Builder variants beyond the default layout: tied embeddings (shared_embeddings=true: Transpose+Gather of
// lm_head.MatMul.weight) against our import of the tied checkpoint; Qwen2-style q/k/v biases kept through the
// packed qkv_proj/Add (against the unpacked layout and ORT's own GroupQueryAttention run of the builder graph);
// and bf16 with the builder's fp32 logits Cast, whose training graph and adapter-ready model must type-check (ORT CPU
// has no bf16 kernels, so the check is that session creation gets past ONNX type checking and stops at kernel lookup).
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Parity;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class ExporterVariantTests(ExporterFolders fx) : IClassFixture<ExporterFolders>
{
    /// <summary>Two fp32 computations of the same model that differ only in layout (MatMul shapes, Split vs separate): observed ≤ 1e-6.</summary>
    private const double SameModelTolerance = 1e-5;

    /// <summary>Gradients of the same model in two layouts, relative to max |g|.</summary>
    private const double SameModelGradientTolerance = 1e-4;

    /// <summary>fp32 logits: our lowered graph vs ORT's GroupQueryAttention kernel on the builder graph itself.</summary>
    private const double KernelTolerance = 1e-4;

    [Fact]
    public void TiedSharedEmbeddingBuilderLayoutMatchesOurImportOfTheTiedCheckpoint()
    {
        var ours = Parity(fx.TiedCheckpoint);
        var builder = Parity(fx.TiedShared);
        AssertSameOutputs(ours, builder);
        var g = ModelReader.Load(Path.Combine(fx.TiedShared, "model.onnx")).Graph;
        Assert.False(g.Initializers.ContainsKey("model.embed_tokens.weight")); // the embedding reads lm_head.MatMul.weight
        Assert.Contains(g.Nodes, n => n.OpType == "Transpose" && n.Input(0) == "lm_head.MatMul.weight");
    }

    [Fact]
    public void MergedTiedBuilderFolderEqualsTheModelWithTheAdapter()
    {
        var merged = fx.NewPath("merged-tied");
        LoraFold.Merge(fx.TiedShared, PeftAdapter.Load(Fixture.Adapter), merged);
        var lora = Parity(fx.TiedShared).Outputs["lora.logits"].Data;
        var folded = ParityRunner.Run(new ParityOptions { Model = merged, Batch = Fixture.Reference }).Outputs["base.logits"].Data;
        Assert.True(MaxAbs(lora, folded) <= SameModelTolerance, $"merged vs adapter logits {MaxAbs(lora, folded):E2}");
    }

    [Fact]
    public void PackedQkvBiasIsKept()
    {
        var packed = Parity(fx.PackedWithBias);
        AssertSameOutputs(Parity(fx.SeparateWithBias), packed);
        using var reference = SafetensorsFile.Open(Fixture.Reference);
        Assert.True(MaxAbs(packed.Outputs["base.logits"].Data, reference.ReadAsFloat32("base.logits")) > 1e-3, "the bias changed nothing");

        // ORT's own GroupQueryAttention (packed QKV + bias Add) on the builder graph gives the same logits as our lowering.
        var kernel = BuilderGraphLogits(Path.Combine(fx.PackedWithBias, "model.onnx"), reference);
        double diff = MaxAbs(kernel, packed.Outputs["base.logits"].Data);
        Assert.True(diff <= KernelTolerance, $"lowered vs ORT GroupQueryAttention with qkv bias: {diff:E2}");

        var merged = fx.NewPath("merged-bias");
        LoraFold.Merge(fx.PackedWithBias, PeftAdapter.Load(Fixture.Adapter), merged);
        Assert.Contains(ModelReader.Load(Path.Combine(merged, "model.onnx")).Graph.Nodes, n => n.Name == "/model/layers.0/attn/qkv_proj/Add");
        var folded = BuilderGraphLogits(Path.Combine(merged, "model.onnx"), reference);
        Assert.True(MaxAbs(folded, packed.Outputs["lora.logits"].Data) <= KernelTolerance, "merged packed+bias model differs from the adapter's logits");
    }

    [Fact]
    public void Bf16BuilderLayoutTrainsInBf16AndReadsTheFp32Logits()
    {
        var model = ModelReader.Load(Path.Combine(fx.PackedBf16, "model.onnx"));
        Assert.Equal(ElementType.Float, Graph.TypeOf(model.Graph.Outputs.Single(o => o.Name == "logits")).Element);
        var graph = TrainingGraph.Build(model, new TrainingGraphOptions { Lora = PeftAdapter.Load(Fixture.Adapter).Settings });
        Assert.Equal(ElementType.BFloat16, graph.ComputeType);
        var g = graph.Model.Graph;
        // LoRA masters stay fp32 inputs, cast to bf16 where they meet the bf16 activations (also on the packed qkv branch).
        Assert.All(graph.Parameters, p => Assert.Equal(ElementType.Float, Graph.TypeOf(g.FindInput(p.Name)!).Element));
        Assert.Contains(g.Nodes, n => n.OpType == "Cast" && n.Name.StartsWith("/lora/model.layers.0.self_attn.q_proj+k_proj+v_proj/", StringComparison.Ordinal)
            && n.GetInt("to", 0) == (long)ElementType.BFloat16);
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "Cast" && n.Name.StartsWith("/lora/", StringComparison.Ordinal) && n.GetInt("to", 0) == (long)ElementType.Float);

        // ORT type-checks the whole graph (forward, backward, loss) before it looks for kernels. A type mix fails the first
        // step ("Type Error"); a consistent bf16 graph passes it and stops at the second, since ORT's CPU provider has no
        // bf16 kernels (docs/mixed-precision.md). The CUDA check is tools/h200.
        using var dir = new TempDir();
        ArtifactWriter.Save(graph.Model, dir["training_model.onnx"]);
        var e = Assert.ThrowsAny<OnnxRuntimeException>(() => new InferenceSession(dir["training_model.onnx"]).Dispose());
        Assert.DoesNotContain("Type Error", e.Message, StringComparison.Ordinal);
        Assert.Contains("Could not find an implementation", e.Message, StringComparison.Ordinal);
    }

    /// <summary>As TrainingGraphShapeTests for our import: the packed Split and the block-diagonal LoRA B keep every shape static.</summary>
    [Fact]
    public void PackedBuilderTrainingGraphHasNoRuntimeBroadcastReductions()
    {
        var graph = TrainingGraph.Build(ModelReader.Load(Path.Combine(fx.PackedFp32, "model.onnx")), new TrainingGraphOptions()).Model.Graph;
        Assert.Contains(graph.Nodes, n => n.OpType == "Split" && n.Name.Contains("GroupQueryAttention", StringComparison.Ordinal));
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "NonZero");
    }

    [Fact]
    public void Bf16AdapterReadyModelAndAdapterAreBf16AndTypeCheck()
    {
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var ready = fx.NewPath("ready-bf16");
        AdapterReadyModel.Build(fx.PackedBf16, adapter.Settings, ready);
        var file = Path.Combine(ready, "fixture" + OnnxAdapterWriter.Extension);
        AdapterExport.WriteOnnxAdapter(adapter, fx.PackedBf16, file);
        var g = ModelReader.Load(Path.Combine(ready, "model.onnx")).Graph;
        var loraInputs = g.Inputs.Where(i => i.Name.Contains(".lora_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(loraInputs);
        Assert.All(loraInputs, i => Assert.Equal(ElementType.BFloat16, Graph.TypeOf(i).Element));
        Assert.All(loraInputs, i => Assert.Equal(ElementType.BFloat16, g.Initializers[i.Name].Type)); // zero defaults of the same type
        // The adapter file's parameters carry ONNX's bfloat16 type number (16); ORT matches them to the inputs by name and type.
        var bytes = File.ReadAllBytes(file);
        Assert.Equal("TORT", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        var e = Assert.ThrowsAny<OnnxRuntimeException>(() => new InferenceSession(Path.Combine(ready, "model.onnx")).Dispose());
        Assert.DoesNotContain("Type Error", e.Message, StringComparison.Ordinal);
        Assert.Contains("Could not find an implementation", e.Message, StringComparison.Ordinal);
    }

    private static ParityResult Parity(string model) =>
        ParityRunner.Run(new ParityOptions { Model = model, Batch = Fixture.Reference, Adapter = Fixture.Adapter });

    private static void AssertSameOutputs(ParityResult expected, ParityResult actual)
    {
        Assert.Equal(expected.Outputs.Keys.Order(StringComparer.Ordinal), actual.Outputs.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, (data, _)) in expected.Outputs)
        {
            var other = actual.Outputs[name].Data;
            double diff = MaxAbs(data, other), scale = data.Max(x => Math.Abs((double)x));
            bool grad = name.StartsWith("grad.", StringComparison.Ordinal);
            Assert.True(grad ? diff <= SameModelGradientTolerance * scale : diff <= SameModelTolerance, $"{name}: max |Δ| {diff:E2} (max |x| {scale:E2})");
        }
    }

    // The builder graph as GenAI runs it: one prefill with an empty KV cache (B,K,0,d).
    private static float[] BuilderGraphLogits(string path, SafetensorsFile reference)
    {
        var ids = reference.ReadInt64("input_ids");
        var shape = reference.GetInfo("input_ids").Shape;
        using var session = new InferenceSession(path);
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { OrtTensors.Int64(ids, shape), OrtTensors.Int64(Enumerable.Repeat(1L, ids.Length).ToArray(), shape) };
        foreach (var input in session.InputMetadata.Keys.Where(k => k.StartsWith("past_key_values.", StringComparison.Ordinal)))
        {
            names.Add(input);
            values.Add(OrtTensors.Float([], shape[0], 2, 0, 16));
        }
        try
        {
            using var outputs = session.Run(new RunOptions(), names, values, ["logits"]);
            return OrtTensors.ToFloats(outputs[0]);
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}
