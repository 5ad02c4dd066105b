// Int4ColumnSplit against ORT's MatMulNBits kernel: a wide int4 linear split into column groups gives the whole
// node's output (symmetric and with zero points, K with a zero-padded last block), its groups read slices of the
// stored external data in place, and nodes within the limit are left alone.
// M=rows, K=in features, N=out features, kb=blocks per column.
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class Int4ColumnSplitTests
{
    /// <summary>Each output column is the same K-long dot product in both forms; only the GEMM's blocking may differ.</summary>
    private const double Fp32Tolerance = 1e-6;

    private const int M = 6, N = 40, Block = 32;

    [Theory]
    [InlineData(true, 64)]
    [InlineData(false, 64)]
    [InlineData(false, 40)] // K not a multiple of the block: the builder's zero-padded last block
    public void ColumnGroupsGiveTheWholeNodesOutput(bool symmetric, int k)
    {
        var feeds = new List<Feed> { new("x", OrtGraphRunner.Random(1, M * k), [2, M / 2, k]) };
        var expected = OrtGraphRunner.Run(Int4Linear(symmetric, k), feeds, "y")["y"];

        var split = Int4Linear(symmetric, k);
        Assert.True(Int4ColumnSplit.Run(split, maxFloatBytes: 16L * k * sizeof(float)).Modified);
        var groups = split.Graph.Nodes.Where(MatMulNBits.Is).ToList();
        Assert.Equal([14L, 14L, 12L], groups.Select(n => n.GetInt("N", 0))); // 40 columns, at most 16 per group: 3 groups of ⌈40/3⌉
        Assert.Equal("Concat", split.Graph.Nodes[^1].OpType);
        Assert.DoesNotContain(split.Graph.Initializers.Keys, name => name == "w_Q4" || name == "w_scales" || name == "w_zero_points");
        Assert.True(OrtGraphRunner.MaxAbsDiff(expected, OrtGraphRunner.Run(split, feeds, "y")["y"]) <= Fp32Tolerance);
    }

    [Fact]
    public void GroupsReadSlicesOfTheStoredExternalDataInPlace()
    {
        using var dir = new TempDir();
        var path = dir["model.onnx"];
        ModelWriter.Save(Int4Linear(symmetric: false, k: 64), path, new ExternalDataOptions { InlineThreshold = 0 });
        var model = ModelReader.Load(path);
        var whole = model.Graph.Initializers.Values.ToDictionary(i => i.Name, i => (ExternalTensorData)i.Data);

        Assert.True(Int4ColumnSplit.Run(model, maxFloatBytes: 16L * 64 * sizeof(float)).Modified);
        foreach (var node in model.Graph.Nodes.Where(MatMulNBits.Is))
        {
            long n0 = long.Parse(node.Name[(node.Name.LastIndexOf("cols", StringComparison.Ordinal) + 4)..], System.Globalization.CultureInfo.InvariantCulture);
            foreach (var (input, source, bytesPerColumn) in new[] { (1, "w_Q4", 2L * 16), (2, "w_scales", 2L * sizeof(float)), (3, "w_zero_points", 1L) })
            {
                var slice = model.Graph.Initializers[node.Input(input)];
                var data = Assert.IsType<ExternalTensorData>(slice.Data);
                Assert.Equal(whole[source].FilePath, data.FilePath);
                Assert.Equal(whole[source].Offset + (n0 * bytesPerColumn), data.Offset);
                Assert.Equal(node.GetInt("N", 0) * bytesPerColumn, data.Length);
            }
        }
    }

    [Fact]
    public void NodesWithinTheLimitAreLeftAlone()
    {
        var model = Int4Linear(symmetric: true, k: 64);
        Assert.False(Int4ColumnSplit.Run(model, maxFloatBytes: (long)N * 64 * sizeof(float)).Modified);
        Assert.Single(model.Graph.Nodes, MatMulNBits.Is);
    }

    // y (2,3,N) = MatMulNBits(x (2,3,K), w) with seeded random codes, scales and (asymmetric) zero points in the
    // builder's layout: codes (N,kb,16) uint8, scales (N·kb), zero points (N·⌈kb/2⌉).
    private static Model Int4Linear(bool symmetric, int k)
    {
        var layout = new Int4BlockLayout(k, N, Block, symmetric);
        var rng = new Random(7);
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 2, M / 2, k));
        var codes = new byte[Initializer.ElementCount(layout.CodeDims)];
        rng.NextBytes(codes);
        g.AddInitializer(new Initializer("w_Q4", ElementType.UInt8, layout.CodeDims, TensorData.FromBytes(codes)));
        var scales = OrtGraphRunner.Random(3, (int)layout.ScaleCount, amplitude: 0.05f);
        g.AddInitializer(Initializer.FromFloats("w_scales", scales, layout.ScaleCount));
        if (!symmetric)
        {
            var zeroPoints = new byte[layout.ZeroPointBytes];
            rng.NextBytes(zeroPoints);
            g.AddInitializer(new Initializer("w_zero_points", ElementType.UInt8, [zeroPoints.Length], TensorData.FromBytes(zeroPoints)));
        }
        g.AddNode(MatMulNBits.CreateNode("/lm_head/MatMul", "x", "w", "y", layout, accuracyLevel: 0));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, 2, M / 2, N));
        var model = new Model(g);
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        return model;
    }
}
