// Target discovery on graphs as real exporters lay them out: module paths from builder/our-import/HF weight
// names and from torch.onnx node names (with the prefixes other exporters add), torch's folded [in,out]
// weights, the unfolded Transpose form, Gemm, the builder's packed qkv_proj as three column slices, a weight
// that two linears share, and the one-line failure that lists what was found when nothing can be adapted.
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Tests.Lora;

public sealed class LinearDiscoveryTests
{
    private static string TorchExport(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx", name, "model.onnx");

    [Theory]
    [InlineData("model.layers.3.attn.q_proj.MatMul.weight", "model.layers.3.self_attn.q_proj")] // builder / our import
    [InlineData("model.layers.3.attn.qkv_proj.MatMul.weight", "model.layers.3.self_attn.qkv_proj")] // builder, packed
    [InlineData("model.layers.3.mlp.down_proj.MatMul.weight", "model.layers.3.mlp.down_proj")]
    [InlineData("lm_head.MatMul.weight", "lm_head")]
    [InlineData("model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.k_proj")] // HF / torch.onnx unfolded
    [InlineData("lm_head.weight", "lm_head")]
    [InlineData("onnx::MatMul_798", null)] // torch.onnx folded: the name says nothing
    [InlineData("model.embed_tokens.weight", null)]
    public void ModulePathFromWeightName(string weight, string? module) => Assert.Equal(module, ModulePaths.FromWeight(weight));

    [Theory]
    [InlineData("/model/layers.0/self_attn/q_proj/MatMul", "model.layers.0.self_attn.q_proj")] // torch.onnx / optimum
    [InlineData("/model/model/layers.1/mlp/up_proj/MatMul", "model.layers.1.mlp.up_proj")] // a wrapper's extra prefix
    [InlineData("/layers.2/self_attn/o_proj/MatMul_1", "model.layers.2.self_attn.o_proj")] // the bare LlamaModel exported
    [InlineData("/base_model/model/model/layers.0/self_attn/v_proj/Gemm", "model.layers.0.self_attn.v_proj")] // a PEFT-wrapped export
    [InlineData("/model/layers.0/attn/qkv_proj/MatMul", "model.layers.0.self_attn.qkv_proj")] // the builder
    [InlineData("/lm_head/MatMul", "lm_head")]
    [InlineData("/model/rotary_emb/MatMul", null)]
    [InlineData("MatMul_12", null)]
    public void ModulePathFromNodeName(string node, string? module) => Assert.Equal(module, ModulePaths.FromNode(node));

    [Fact]
    public void TorchOnnxExportLinearsAreFoundByNodeName()
    {
        var layers = LinearDiscovery.Find(ModelReader.Load(TorchExport("tiny-llama")).Graph);
        Assert.Equal(15, layers.Count); // 2 layers × 7 projections + lm_head
        var q = Assert.Single(layers, l => l.Module == "model.layers.0.self_attn.q_proj");
        Assert.Equal(("/model/layers.0/self_attn/q_proj/MatMul", WeightLayout.InOut, 64L, 64L), (q.Node, q.Layout, q.In, q.Out));
        Assert.StartsWith("onnx::MatMul_", q.Weight, StringComparison.Ordinal);
        Assert.Equal((160L, 64L), Assert.Single(layers, l => l.Module == "model.layers.1.mlp.down_proj") is var d ? (d.In, d.Out) : default);
        Assert.Contains(layers, l => l.Module == "lm_head" && l.Out == 512);
    }

    [Fact]
    public void UnfoldedTorchExportReadsHfWeightsBehindTranspose()
    {
        var layers = LinearDiscovery.Find(ModelReader.Load(TorchExport("tiny-llama-unfolded")).Graph);
        Assert.Equal(15, layers.Count);
        var k = Assert.Single(layers, l => l.Module == "model.layers.0.self_attn.k_proj");
        Assert.Equal((WeightLayout.OutInTransposed, "model.layers.0.self_attn.k_proj.weight", 64L, 32L), (k.Layout, k.Weight, k.In, k.Out));
        Assert.Equal("/model/layers.0/self_attn/k_proj/Transpose", k.View);
    }

    [Fact]
    public void BuilderPackedQkvGivesThreeColumnSlicesOfOneWeight()
    {
        using var dir = new TempDir();
        BuilderLayout.Write(Fixture.Base, dir["builder"], new BuilderOptions());
        var layers = LinearDiscovery.Find(ModelReader.Load(Path.Combine(dir["builder"], "model.onnx")).Graph);
        Assert.Equal(15, layers.Count);
        var qkv = layers.Where(l => l.Module.StartsWith("model.layers.1.self_attn.", StringComparison.Ordinal) && l.IsSlice).ToList();
        Assert.Equal(["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.v_proj"], qkv.Select(l => l.Module));
        Assert.Equal([(0L, 64L), (64L, 32L), (96L, 32L)], qkv.Select(l => (l.Offset, l.Out)));
        Assert.All(qkv, l => Assert.Equal(("model.layers.1.attn.qkv_proj.MatMul.weight", 128L), (l.Weight, l.Columns)));
    }

    [Fact]
    public void GemmWithTransposedWeightIsALinear()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 3, 8));
        g.AddInitializer(Initializer.FromFloats("model.layers.0.mlp.up_proj.weight", new float[5 * 8], 5, 8)); // [out,in]
        g.AddInitializer(Initializer.FromFloats("model.layers.0.mlp.up_proj.bias", new float[5], 5));
        g.AddNode(new Node("Gemm", "/model/layers.0/mlp/up_proj/Gemm", ["x", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias"], ["y"]))
            .SetAttribute("transB", 1L);
        var l = Assert.Single(LinearDiscovery.Find(g));
        Assert.Equal(("model.layers.0.mlp.up_proj", WeightLayout.GemmOutIn, 8L, 5L), (l.Module, l.Layout, l.In, l.Out));
    }

    [Fact]
    public void WeightReadByTwoLinearsIsNamedByTheirNodes()
    {
        // torch.onnx merges equal initializers: here q_proj and k_proj both read the tensor saved as q_proj's.
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 1, 2, 4));
        g.AddInitializer(Initializer.FromFloats("model.layers.0.self_attn.q_proj.weight", new float[16], 4, 4));
        g.AddNode(new Node("Transpose", "/model/layers.0/self_attn/q_proj/Transpose", ["model.layers.0.self_attn.q_proj.weight"], ["qt"]));
        g.AddNode(new Node("MatMul", "/model/layers.0/self_attn/q_proj/MatMul", ["x", "qt"], ["q"]));
        g.AddNode(new Node("Transpose", "/model/layers.0/self_attn/k_proj/Transpose", ["model.layers.0.self_attn.q_proj.weight"], ["kt"]));
        g.AddNode(new Node("MatMul", "/model/layers.0/self_attn/k_proj/MatMul", ["x", "kt"], ["k"]));
        var layers = LinearDiscovery.Find(g);
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"], layers.Select(l => l.Module));
    }

    [Fact]
    public void GraphWithoutNamedLinearsFailsListingWhatItSaw()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 1, 2, 4));
        g.AddInitializer(Initializer.FromFloats("w0", new float[16], 4, 4));
        g.AddNode(new Node("MatMul", "mm0", ["x", "w0"], ["y"]));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, 1, 2, 4));
        var e = Assert.Throws<RewriteException>(() => LoraInjection.Run(new Model(g), new LoraSettings(), training: false));
        Assert.Contains("no adaptable linear layer found", e.Message, StringComparison.Ordinal);
        Assert.Contains("'mm0'(x, w0)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TargetListMatchesPeftSuffixesAndStringIsAFullRegex()
    {
        var m = new TargetMatcher(new LoraSettings { TargetModules = ["self_attn.q_proj", "down_proj"] });
        Assert.True(m.IsTarget("model.layers.0.self_attn.q_proj"));
        Assert.True(m.IsTarget("model.layers.1.mlp.down_proj"));
        Assert.False(m.IsTarget("model.layers.0.self_attn.qq_proj"));
        var regex = new TargetMatcher(new LoraSettings { TargetRegex = @".*\.(q|v)_proj" });
        Assert.True(regex.IsTarget("model.layers.0.self_attn.v_proj"));
        Assert.False(regex.IsTarget("model.layers.0.self_attn.o_proj"));
        Assert.False(new TargetMatcher(new LoraSettings { TargetRegex = "q_proj" }).IsTarget("model.layers.0.self_attn.q_proj")); // fullmatch, not search
        Assert.False(new TargetMatcher(new LoraSettings { TargetModules = [TargetMatcher.AllLinear] }).IsTarget("lm_head"));
    }
}
