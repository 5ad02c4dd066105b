// Hot-swap on an int4 base: the adapter-ready model of the builder's -p int4 layout (MatMulNBits, packed qkv_proj,
// lm_head int4) keeps every MatMulNBits and adds fp32 LoRA branches; the fixture adapter as .onnx_adapter plugs into it
// and its logits equal the PyTorch run of the adapter over the dequantized weights in fp32 (tests/data/int4). The base
// is written with accuracy_level 0 (the builder's non-CPU setting): level 4 lets ORT's CPU kernel quantize activations
// to int8, an inference trade the deployed model may make but not one an fp32 comparison can hold. An adapter whose
// stored base fingerprint is another base's is refused in one line with nothing written. B=2, T=16, V=512.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Runtime;
using Xunit.Abstractions;

namespace OnnxLora.Inference.Tests;

public sealed class Int4HotSwapTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>fp32 logits of the ready model + adapter against PyTorch on the dequantized weights.</summary>
    private const double LogitsTolerance = 1e-4;

    private readonly TempDir _dir = new();

    [Theory]
    [InlineData("sym")]
    [InlineData("asym")]
    public void OnnxAdapterOnInt4ReadyModelMatchesTheDequantizedFp32Reference(string variant)
    {
        var int4 = BuilderLayout.Write(Fixture.Base, _dir["int4-" + variant], new BuilderOptions { Int4 = variant, Int4AccuracyLevel = 0 });
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var ready = _dir["ready-" + variant];
        AdapterReadyModel.Build(int4, adapter.Settings, ready);
        var file = Path.Combine(Directory.CreateDirectory(_dir["adapters-" + variant]).FullName, "fixture.onnx_adapter");
        AdapterExport.WriteOnnxAdapter(adapter, int4, file);

        var g = GenAiFolder.Open(ready).LoadDecoder().Graph;
        Assert.Equal(9, g.Nodes.Count(n => n.OpType == "MatMulNBits")); // 2 layers × (qkv, o, gate+up fused, down) + lm_head, none dequantized
        Assert.DoesNotContain(g.Initializers.Values, i => i.Name.EndsWith(".MatMul.weight", StringComparison.Ordinal));
        Assert.All(g.Inputs.Where(i => i.Name.Contains(".lora_", StringComparison.Ordinal)), i => Assert.Equal(ElementType.Float, Graph.TypeOf(i).Element));

        using var reference = SafetensorsFile.Open(Path.Combine(TestPaths.RepoRoot, "tests", "data", "int4", $"reference_{variant}.safetensors"));
        var ids = reference.ReadInt64("input_ids");
        using var session = new InferenceSession(Path.Combine(ready, "model.onnx"));
        using var ortAdapter = OrtLoraAdapter.Create(file, null);
        double withAdapter = MaxAbs(Logits(session, ids, ortAdapter), reference.ReadAsFloat32("lora.logits"));
        double without = MaxAbs(Logits(session, ids, null), reference.ReadAsFloat32("base.logits"));
        output.WriteLine($"{variant}: ready model + .onnx_adapter vs PyTorch on dequantized weights: max abs {withAdapter:E2}; without adapter vs base {without:E2}");
        Assert.True(withAdapter <= LogitsTolerance, $"{variant}: ready model + adapter vs dequantized reference {withAdapter:E2}");
        Assert.True(without <= LogitsTolerance, $"{variant}: ready model without adapter vs dequantized base {without:E2}");
        Assert.True(MaxAbs(reference.ReadAsFloat32("lora.logits"), reference.ReadAsFloat32("base.logits")) > 1e-2, "the adapter changes nothing; the check would be vacuous");
    }

    [Fact]
    public void AdapterTrainedOnAnotherBaseIsRefusedForTheInt4ModelWithNothingWritten()
    {
        var fp32 = BuilderLayout.Write(Fixture.Base, _dir["fp32"], new BuilderOptions());
        var int4 = BuilderLayout.Write(Fixture.Base, _dir["int4"], new BuilderOptions { Int4 = "sym" });
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var targets = Targeted(GenAiFolder.Open(fp32).LoadDecoder().Graph, adapter);
        var trainedOnFp32 = new PeftAdapter { Settings = adapter.Settings, Tensors = adapter.Tensors, Metadata = BaseHash.Metadata(GenAiFolder.Open(fp32).LoadDecoder().Graph, targets) };
        var file = Path.Combine(Directory.CreateDirectory(_dir["out"]).FullName, "x.onnx_adapter");
        var e = Assert.ThrowsAny<Exception>(() => AdapterExport.WriteOnnxAdapter(trainedOnFp32, int4, file));
        Assert.Contains("another base", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(Directory.GetFiles(_dir["out"]));
        // the same adapter stamped with the int4 base's own fingerprint is accepted
        var int4Targets = Targeted(GenAiFolder.Open(int4).LoadDecoder().Graph, adapter);
        var trainedOnInt4 = new PeftAdapter { Settings = adapter.Settings, Tensors = adapter.Tensors, Metadata = BaseHash.Metadata(GenAiFolder.Open(int4).LoadDecoder().Graph, int4Targets) };
        AdapterExport.WriteOnnxAdapter(trainedOnInt4, int4, file);
        Assert.True(File.Exists(file));
    }

    // The layers the adapter targets: its fingerprint covers those weights only.
    private static List<LinearLayer> Targeted(Graph g, PeftAdapter adapter) =>
        LinearDiscovery.Find(g).Where(l => adapter.Tensors.ContainsKey(Peft.A(l.Module))).ToList();

    // One prefill of the builder graph: input_ids (B,T), attention_mask of ones, empty past (B,K,0,d); logits (B,T,V).
    private static float[] Logits(InferenceSession s, long[] ids, OrtLoraAdapter? adapter) =>
        PrefillLogits.Run(s, LlamaConfig.Load(Path.Combine(Fixture.Base, "config.json")), ids, batch: 2, adapter);

    private static double MaxAbs(float[] x, float[] y)
    {
        Assert.Equal(x.Length, y.Length);
        return x.Zip(y, (p, q) => Math.Abs((double)p - q)).Max();
    }

    public void Dispose() => _dir.Dispose();
}
