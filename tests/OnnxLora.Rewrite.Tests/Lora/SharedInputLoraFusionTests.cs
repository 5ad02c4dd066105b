// The adapter-ready graph on the imported fixture: no Transpose or Mul in any LoRA branch, q/k/v and
// gate/up each share one base MatMul and one LoRA branch, GroupQueryAttention reads the packed QKV,
// and each layer has four overridable A/B pairs (qkv, o, gate+up, down).
// (Numerical equality with the merged model is checked on ORT and GenAI in OnnxLora.Inference.Tests.)
using OnnxLora.Models;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Tests.Fold;

namespace OnnxLora.Rewrite.Tests.Lora;

public sealed class SharedInputLoraFusionTests(ImportedFixture fx) : IClassFixture<ImportedFixture>
{
    [Fact]
    public void ReadyModelSharesBranchesAndRunsNoTransposeOrMul()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var ready = fx.NewPath("ready");
        var targets = AdapterReadyModel.Build(fx.BaseDir, adapter.Settings, ready);
        var baseGraph = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph;
        var g = ModelReader.Load(Path.Combine(ready, "model.onnx")).Graph;
        int layers = LlamaConfig.Load(Path.Combine(Fixture.TinyLlama, "base", "config.json")).NumHiddenLayers;
        Assert.Equal(7 * layers, targets.Count);

        Assert.DoesNotContain(g.Nodes, n => n.Name.StartsWith("/lora/", StringComparison.Ordinal) && n.OpType is "Transpose" or "Mul" or "Cast");
        // Base: 7 MatMuls per layer + lm_head. Ready: qkv 1+2, o 1+2, gate/up 1+2, down 1+2.
        Assert.Equal((7 * layers) + 1, baseGraph.Nodes.Count(n => n.OpType == "MatMul"));
        Assert.Equal((12 * layers) + 1, g.Nodes.Count(n => n.OpType == "MatMul"));
        Assert.Equal(layers, g.Nodes.Count(n => n.OpType == "Split")); // gate/up only; q/k/v go packed into attention
        Assert.All(g.Nodes.Where(n => n.OpType == "GroupQueryAttention"), n => Assert.Equal(("", ""), (n.Input(1), n.Input(2))));

        var overridable = g.Inputs.Where(i => g.Initializers.ContainsKey(i.Name))
            .ToDictionary(i => i.Name, i => string.Join(",", Onnx.Ir.Graph.TypeOf(i).Shape.Select(d => d.Value)));
        Assert.Equal(8 * layers, overridable.Count); // 4 A/B pairs per layer
        Assert.Contains(Peft.A("model.layers.0.self_attn.q_proj+k_proj+v_proj"), overridable.Keys);
        Assert.Contains(Peft.A("model.layers.0.self_attn.o_proj"), overridable.Keys);
    }
}
