// The int4 linear's record (com.microsoft MatMulNBits, frozen weight): dA by finite differences for symmetric and
// asymmetric codes, K a whole number of blocks and K=40 (a zero-padded partial block, an odd block count so the
// zero points' padding nibble is read past), in one piece and in column chunks; no gradient reaches the codes; the
// dequantization sits in the backward, after the gradient, not in a form ORT could constant-fold at session start.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class MatMulNBitsGradientTests
{
    private const long Block = 32;

    [Theory]
    [InlineData(64, 5, true, 0L)]
    [InlineData(64, 5, false, 0L)]
    [InlineData(40, 6, true, 0L)]
    [InlineData(40, 6, false, 0L)]
    [InlineData(40, 7, false, 2 * 40 * 4L)] // chunks of 2 columns: 4 chunks, the last one column
    public void MatMulNBitsInputGradientMatchesFiniteDifferences(long k, long n, bool symmetric, long chunkBytes)
    {
        using var c = new GradientCheck();
        if (chunkBytes > 0)
        {
            c.Options = new GradientOptions { Int4ChunkBytes = chunkBytes };
        }
        c.Model.EnsureOpset(Model.MicrosoftDomain, 1);
        var a = c.Input("a", [2, 3, k]);
        var y = AddInt4Linear(c, a, k, n, symmetric, seed: (int)(k * n));
        c.Check(y);
        Assert.Single(c.Gradients); // only A: codes, scales and zero points are frozen
    }

    [Fact]
    public void DequantizationRunsInTheBackwardAfterTheGradient()
    {
        using var c = new GradientCheck();
        c.Model.EnsureOpset(Model.MicrosoftDomain, 1);
        var a = c.Input("a", [2, 3, 64]);
        c.Differentiate(AddInt4Linear(c, a, 64, 5, symmetric: true, seed: 7));
        var codeReaders = c.Graph.Nodes.Where(n => n.Inputs.Contains("w_Q4") && n.OpType != "MatMulNBits").ToList();
        // only the ordered view reads the codes: Reshape(codes, Shape(codes) + 0·Size(gradient)), never a Cast ORT could fold
        Assert.Equal(["Reshape", "Shape"], codeReaders.Select(n => n.OpType).Order(StringComparer.Ordinal));
        var producers = c.Graph.ProducerIndex();
        var shapeArg = producers[codeReaders.Single(n => n.OpType == "Reshape").Input(1)];
        Assert.Contains(shapeArg.Inputs, i => producers.TryGetValue(i, out var p) && p.OpType == "Mul"
            && p.Inputs.Any(x => producers.TryGetValue(x, out var s) && s.OpType == "Size"));
    }

    // W (K,N) in the builder's layout: codes (N, kb, 16) random nibbles, scales (N·kb) in [0.01, 0.1), zero points packed.
    private static string AddInt4Linear(GradientCheck c, string a, long k, long n, bool symmetric, int seed)
    {
        var r = new Random(seed);
        long kb = (k + Block - 1) / Block;
        var codes = new byte[n * kb * (Block / 2)];
        r.NextBytes(codes);
        var scales = Enumerable.Range(0, (int)(n * kb)).Select(_ => 0.01f + (0.09f * (float)r.NextDouble())).ToArray();
        c.Graph.AddInitializer(new Initializer("w_Q4", ElementType.UInt8, [n, kb, Block / 2], TensorData.FromBytes(codes)));
        c.Graph.AddInitializer(Initializer.FromFloats("w_scales", scales, n * kb));
        List<string> inputs = [a, "w_Q4", "w_scales"];
        if (!symmetric)
        {
            var zp = new byte[n * ((kb + 1) / 2)];
            r.NextBytes(zp);
            c.Graph.AddInitializer(new Initializer("w_zero_points", ElementType.UInt8, [zp.Length], TensorData.FromBytes(zp)));
            inputs.Add("w_zero_points");
        }
        var y = "y";
        var node = new Node("MatMulNBits", "/w/MatMul_Q4", inputs, [y], Model.MicrosoftDomain);
        node.SetAttribute("K", k);
        node.SetAttribute("N", n);
        node.SetAttribute("bits", 4L);
        node.SetAttribute("block_size", Block);
        c.Graph.AddNode(node);
        return y;
    }
}
