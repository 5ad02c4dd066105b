// GemmLowering against ORT's Gemm kernel (transA/transB, alpha, beta, bias), and a Linear exported as
// Gemm(x, W, b, transB=1) being found and adapted after lowering: LoRA with B = 0 reproduces it bit for bit.
// M=rows, K=in features, N=out features.
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class GemmLoweringTests
{
    /// <summary>MatMul vs Gemm kernels summing K=6 float32 products in possibly different orders.</summary>
    private const double Fp32Tolerance = 1e-5;

    private const int M = 3, K = 6, N = 5;

    [Theory]
    [InlineData(0L, 1L, 1f, 1f)]
    [InlineData(1L, 0L, 0.5f, 2f)]
    [InlineData(0L, 0L, 1f, 0f)]
    public void LoweredGemmMatchesOrtKernel(long transA, long transB, float alpha, float beta)
    {
        var feeds = new List<Feed> { new("a", OrtGraphRunner.Random(1, M * K), transA == 1 ? [K, M] : [M, K]) };
        var expected = OrtGraphRunner.Run(GemmGraph(transA, transB, alpha, beta), feeds, "y")["y"];
        var lowered = GemmGraph(transA, transB, alpha, beta);
        Assert.True(GemmLowering.Run(lowered).Modified);
        Assert.DoesNotContain(lowered.Graph.Nodes, n => n.OpType == "Gemm");
        Assert.True(OrtGraphRunner.MaxAbsDiff(expected, OrtGraphRunner.Run(lowered, feeds, "y")["y"]) <= Fp32Tolerance);
    }

    [Fact]
    public void LinearExportedAsGemmIsAdaptedAfterLowering()
    {
        var feeds = new List<Feed> { new("a", OrtGraphRunner.Random(1, M * K), [M, K]) };
        var plain = GemmGraph(0, 1, 1f, 1f);
        GemmLowering.Run(plain);
        var expected = OrtGraphRunner.Run(plain, feeds, "y")["y"];

        var lora = GemmGraph(0, 1, 1f, 1f);
        GemmLowering.Run(lora);
        var layer = Assert.Single(LinearDiscovery.Find(lora.Graph));
        Assert.Equal(("model.layers.0.mlp.up_proj", WeightLayout.OutInTransposed), (layer.Module, layer.Layout));
        var (_, targets) = LoraInjection.Run(lora, new LoraSettings { Rank = 2, Alpha = 2, TargetModules = ["up_proj"] }, training: false);
        var t = Assert.Single(targets);
        var withLora = feeds.Concat([new Feed(t.A, OrtGraphRunner.Random(2, 2 * K), [2, K]), new Feed(t.B, new float[N * 2], [N, 2])]).ToList();
        Assert.Equal(expected, OrtGraphRunner.Run(lora, withLora, "y")["y"]); // x·Wᵀ + b + 0
    }

    // torch.onnx's Linear on a 2-D input with a bias: Gemm(x, W [N,K], b [N], transB=1), named by its module.
    private static Model GemmGraph(long transA, long transB, float alpha, float beta)
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("a", ElementType.Float, transA == 1 ? [K, M] : [M, K]));
        var w = OrtGraphRunner.Random(3, K * N);
        g.AddInitializer(Initializer.FromFloats("model.layers.0.mlp.up_proj.weight", w, transB == 1 ? [N, K] : [K, N]));
        g.AddInitializer(Initializer.FromFloats("model.layers.0.mlp.up_proj.bias", OrtGraphRunner.Random(4, N), N));
        g.AddNode(new Node("Gemm", "/model/layers.0/mlp/up_proj/Gemm", ["a", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.bias"], ["y"]))
            .SetAttribute("transA", transA).SetAttribute("transB", transB).SetAttribute("alpha", alpha).SetAttribute("beta", beta);
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, M, N));
        return new Model(g);
    }
}
