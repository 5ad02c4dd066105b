// NormLowering against ORT's own kernels on the same inputs: SimplifiedLayerNormalization (default domain, as
// the GenAI builder emits it) and SkipSimplifiedLayerNormalization (com.microsoft, normalized output and the
// residual sum) in fp32 and fp16; and the node forms the pass refuses (used inv_std output, axis ≠ −1).
// B=batch, T=time, D=hidden.
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class NormLoweringTests
{
    /// <summary>fp32: the mean of x² summed in a different order; outputs are O(1) (observed ≤ 1e-6).</summary>
    private const double Fp32Tolerance = 1e-5;

    /// <summary>fp16: one float16 ulp for outputs |w·x/rms| &lt; 4, should the two round at different points (observed 0).</summary>
    private const double Fp16Tolerance = 2e-3;

    private const int B = 2, T = 5, D = 64;
    private const float Epsilon = 1e-6f;

    [Theory]
    [InlineData(ElementType.Float, Fp32Tolerance)]
    [InlineData(ElementType.Float16, Fp16Tolerance)]
    public void LoweredSimplifiedLayerNormMatchesOrtKernel(ElementType dtype, double tolerance)
    {
        var feeds = new List<Feed> { Input("x", OrtGraphRunner.Random(11, B * T * D, 3f), dtype) };
        var expected = OrtGraphRunner.Run(NormGraph(dtype, skip: false), feeds, "y")["y"];

        var lowered = NormGraph(dtype, skip: false);
        Assert.True(NormLowering.Run(lowered, dtype).Modified);
        Assert.DoesNotContain(lowered.Graph.Nodes, n => n.OpType.Contains("LayerNormalization", StringComparison.Ordinal));
        var actual = OrtGraphRunner.Run(lowered, feeds, "y")["y"];

        double diff = OrtGraphRunner.MaxAbsDiff(expected, actual);
        Assert.True(diff <= tolerance, $"{dtype}: lowered vs ORT SimplifiedLayerNormalization max |Δ| {diff:E2} > {tolerance:E0}");
    }

    [Theory]
    [InlineData(ElementType.Float, Fp32Tolerance)]
    [InlineData(ElementType.Float16, Fp16Tolerance)]
    public void LoweredSkipSimplifiedLayerNormMatchesOrtKernelIncludingResidualSum(ElementType dtype, double tolerance)
    {
        var feeds = new List<Feed>
        {
            Input("x", OrtGraphRunner.Random(12, B * T * D, 2f), dtype), Input("skip", OrtGraphRunner.Random(13, B * T * D, 2f), dtype),
        };
        var expected = OrtGraphRunner.Run(NormGraph(dtype, skip: true), feeds, "y", "sum");

        var lowered = NormGraph(dtype, skip: true);
        Assert.True(NormLowering.Run(lowered, dtype).Modified);
        Assert.DoesNotContain(lowered.Graph.Nodes, n => n.OpType.Contains("LayerNormalization", StringComparison.Ordinal));
        var actual = OrtGraphRunner.Run(lowered, feeds, "y", "sum");

        foreach (var output in new[] { "y", "sum" })
        {
            double diff = OrtGraphRunner.MaxAbsDiff(expected[output], actual[output]);
            Assert.True(diff <= tolerance, $"{dtype} {output}: lowered vs ORT SkipSimplifiedLayerNormalization max |Δ| {diff:E2} > {tolerance:E0}");
        }
    }

    [Fact]
    public void RefusesANodeWhoseInvStdOutputIsUsed()
    {
        var m = NormGraph(ElementType.Float, skip: false);
        var norm = m.Graph.Nodes.Single();
        norm.Outputs.Add("mean");
        norm.Outputs.Add("inv_std");
        m.Graph.AddNode(new Node("Identity", "use_inv_std", ["inv_std"], ["inv_std_out"]));
        var e = Assert.Throws<RewriteException>(() => NormLowering.Run(m));
        Assert.Contains($"node '{norm.Name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("inv_std", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesAnAxisOtherThanTheLast()
    {
        var m = NormGraph(ElementType.Float, skip: false);
        m.Graph.Nodes.Single().SetAttribute("axis", 1L);
        var e = Assert.Throws<RewriteException>(() => NormLowering.Run(m));
        Assert.Contains("axis 1 is not supported", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// x (B,T,D) → SimplifiedLayerNormalization (default domain, stash_type 1) → y; or, with <paramref name="skip"/>,
    /// SkipSimplifiedLayerNormalization(x, skip, w) → y and the residual sum x+skip (output 3), mean/inv_std unused.
    /// </summary>
    private static Model NormGraph(ElementType dtype, bool skip)
    {
        var g = new Graph { Name = "norm" };
        var b = new GraphBuilder(g);
        g.Inputs.Add(Graph.MakeValueInfo("x", dtype, "batch_size", "sequence_length", D));
        var weight = OrtGraphRunner.Random(14, D, 1f).Select(w => 1f + w).ToArray(); // (D) around 1, as trained norms are
        var init = Initializer.FromFloats("weight", weight, D);
        if (dtype != ElementType.Float)
        {
            var bytes = new byte[D * dtype.SizeInBytes()];
            ElementConversion.FromFloat32(dtype, weight, bytes);
            init = new Initializer("weight", dtype, [D], TensorData.FromBytes(bytes));
        }
        g.AddInitializer(init);
        if (skip)
        {
            g.Inputs.Add(Graph.MakeValueInfo("skip", dtype, "batch_size", "sequence_length", D));
            b.NodeWithOutputs("SkipSimplifiedLayerNormalization", ["x", "skip", "weight"], ["y", "", "", "sum"], Model.MicrosoftDomain,
                ("epsilon", Epsilon));
            g.Outputs.Add(Graph.MakeValueInfo("sum", dtype, "batch_size", "sequence_length", D));
        }
        else
        {
            b.NodeWithOutputs("SimplifiedLayerNormalization", ["x", "weight"], ["y"], "",
                ("axis", -1L), ("epsilon", Epsilon), ("stash_type", 1L));
        }
        g.Outputs.Add(Graph.MakeValueInfo("y", dtype, "batch_size", "sequence_length", D));
        var m = new Model(g);
        m.EnsureOpset(Model.MicrosoftDomain, 1);
        return m;
    }

    private static Feed Input(string name, float[] data, ElementType dtype) =>
        dtype == ElementType.Float ? new Feed(name, data, [B, T, D]) : new Feed(name, OrtGraphRunner.ToHalf(data), [B, T, D]);
}
