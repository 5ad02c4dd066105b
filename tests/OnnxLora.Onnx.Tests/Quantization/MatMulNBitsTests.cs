// MatMulNBits nodes built from our int4 tensors, run by ORT's own kernel (accuracy_level 0: float math on the
// dequantized weight) against x·dequant(W); and MatMulNBitsWeight reading such nodes back, refusing in one line
// what the builder does not write. B=batch, T=time, K=in features, N=out features.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Onnx.Tests.Quantization;

public sealed class MatMulNBitsTests
{
    /// <summary>ORT MatMulNBits (fp32, accuracy_level 0) vs a double-accumulated x·dequant(W), |y| ≈ 1..10.</summary>
    private const float KernelAbsTolerance = 1e-5f;

    private const int Block = Int4BlockLayout.DefaultBlockSize;

    [Theory]
    [InlineData(64, 24, true)]
    [InlineData(64, 24, false)]
    [InlineData(40, 3, true)]   // partial last block
    [InlineData(40, 3, false)]
    [InlineData(160, 16, false)] // odd block count: zero-point padding nibble
    public void OrtKernelOnOurTensorsEqualsInputTimesDequantizedWeight(int k, int n, bool symmetric)
    {
        var layout = new Int4BlockLayout(k, n, Block, symmetric);
        var q = Int4Quantizer.Quantize(Random(k * n, seed: k + n), layout);
        using var dir = new TempDir();
        var path = SaveOneNodeModel(dir["m.onnx"], "w", layout, q, accuracyLevel: 0);
        const int rows = 2 * 5;
        var x = Random(rows * k, seed: 7);
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [2, 5, k]);
        using var run = new RunOptions(); // held: Run passes only its handle
        using var results = session.Run(run, ["x"], [input], ["y"]);
        var y = results[0].GetTensorDataAsSpan<float>();

        var w = q.Dequantize();
        float maxDiff = 0;
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < n; c++)
            {
                double acc = 0;
                for (int i = 0; i < k; i++)
                {
                    acc += (double)x[(r * k) + i] * w[(i * n) + c];
                }
                maxDiff = MathF.Max(maxDiff, MathF.Abs((float)acc - y[(r * n) + c]));
            }
        }
        Assert.True(maxDiff <= KernelAbsTolerance, $"max |ORT − x·dequant(W)| = {maxDiff}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OrtGatherBlockQuantizedOnOurTensorsReturnsTheDequantizedRows(bool symmetric)
    {
        const int vocab = 37, hidden = 64;
        var layout = new Int4BlockLayout(hidden, vocab, Block, symmetric); // embedding row v = quantizer column v
        var e = Random(vocab * hidden, seed: 9);
        var columns = new float[hidden * vocab]; // (K=hidden, N=vocab): the embedding transposed
        for (int v = 0; v < vocab; v++)
        {
            for (int k = 0; k < hidden; k++)
            {
                columns[(k * vocab) + v] = e[(v * hidden) + k];
            }
        }
        var q = Int4Quantizer.Quantize(columns, layout);
        var graph = new Graph { Name = "one_gather" };
        var (dataDims, scaleDims, zpDims) = GatherBlockQuantized.Dims(layout);
        graph.AddInitializer(new Initializer("emb_Q4", ElementType.UInt8, dataDims, TensorData.FromBytes(q.Codes)));
        graph.AddInitializer(new Initializer("emb_scales", ElementType.Float, scaleDims, TensorData.FromBytes(q.Scales)));
        if (!symmetric)
        {
            graph.AddInitializer(new Initializer("emb_zero_points", ElementType.UInt8, zpDims, TensorData.FromBytes(q.ZeroPoints!)));
        }
        graph.Inputs.Add(Graph.MakeValueInfo("ids", ElementType.Int64, "batch", "time"));
        graph.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, "batch", "time", hidden));
        graph.AddNode(GatherBlockQuantized.CreateNode("/embed/Gather", "emb", "ids", "y", layout));
        var model = new Model(graph);
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        using var dir = new TempDir();
        ModelWriter.Save(model, dir["g.onnx"]);
        long[] ids = [0, 5, 36, 5, 17, 1];
        using var session = new InferenceSession(dir["g.onnx"]);
        using var input = OrtValue.CreateTensorValueFromMemory(ids, [2, 3]);
        using var run = new RunOptions(); // held: Run passes only its handle
        using var results = session.Run(run, ["ids"], [input], ["y"]);
        var y = results[0].GetTensorDataAsSpan<float>().ToArray();
        var d = q.Dequantize(); // (hidden, vocab)
        for (int i = 0; i < ids.Length; i++)
        {
            for (int k = 0; k < hidden; k++)
            {
                Assert.Equal(d[(k * vocab) + ids[i]], y[(i * hidden) + k]);
            }
        }
    }

    [Fact]
    public void NodeHasTheBuilderNamesAttributesAndWiring()
    {
        var node = MatMulNBits.CreateNode("/model/layers.0/attn/q_proj/MatMul", "x", "model.layers.0.attn.q_proj.MatMul.weight", "y",
            new Int4BlockLayout(64, 96, Block, symmetric: false), accuracyLevel: 4);
        Assert.Equal("/model/layers.0/attn/q_proj/MatMul_Q4", node.Name);
        Assert.Equal("com.microsoft", node.Domain);
        Assert.Equal(["x", "model.layers.0.attn.q_proj.MatMul.weight_Q4", "model.layers.0.attn.q_proj.MatMul.weight_scales",
            "model.layers.0.attn.q_proj.MatMul.weight_zero_points"], node.Inputs);
        Assert.Equal(["K", "N", "accuracy_level", "bits", "block_size"], node.Proto.Attribute.Select(a => a.Name));
        Assert.Equal([64L, 96L, 4L, 4L, 32L], node.Proto.Attribute.Select(a => a.I));

        var symmetric = MatMulNBits.CreateNode("n", "x", "w", "y", new Int4BlockLayout(64, 96, Block, symmetric: true), accuracyLevel: 0);
        Assert.Equal(3, symmetric.Inputs.Count);
        Assert.Null(symmetric.Attribute("accuracy_level")); // the builder omits a zero accuracy_level
    }

    [Fact]
    public void SavedNodeReadsBackAsTheSameWeight()
    {
        var layout = new Int4BlockLayout(40, 6, Block, symmetric: false);
        var q = Int4Quantizer.Quantize(Random(40 * 6, seed: 2), layout);
        using var dir = new TempDir();
        var model = ModelReader.Load(SaveOneNodeModel(dir["m.onnx"], "w", layout, q, accuracyLevel: 4));
        var weight = MatMulNBitsWeight.Read(model.Graph, model.Graph.Nodes.Single(), "m.onnx");
        Assert.Equal(layout, weight.Layout);
        Assert.Equal(4, weight.AccuracyLevel);
        Assert.Equal("w", weight.WeightName);
        Assert.Equal(q.Dequantize(), weight.DequantizeAll());
        Assert.Equal(q.Codes, weight.ToTensors().Codes);
    }

    [Theory]
    [InlineData("bits", 8L, "bits=8 is not supported (only 4-bit MatMulNBits)")]
    [InlineData("bits", 2L, "bits=2 is not supported")]
    [InlineData("weight_prepacked", 1L, "weights are prepacked for a GPU kernel (weight_prepacked=1)")]
    [InlineData("block_size", 48L, "block size 48 is not supported")]
    public void UnsupportedNodeIsRefusedInOneLineNamingTheNode(string attribute, long value, string expected)
    {
        var (graph, node) = OneNodeGraph(symmetric: true);
        node.SetAttribute(attribute, value);
        var e = Assert.ThrowsAny<Exception>(() => MatMulNBitsWeight.Read(graph, node, "model.onnx"));
        Assert.StartsWith("model.onnx: MatMulNBits node '/lm_head/MatMul_Q4': ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void GroupIndexAndFloatZeroPointsAreRefused()
    {
        var (graph, node) = OneNodeGraph(symmetric: true);
        node.Inputs.Add("");
        node.Inputs.Add("g_idx");
        Assert.Contains("g_idx", Assert.Throws<BadInputException>(() => MatMulNBitsWeight.Read(graph, node, "m")).Message);

        (graph, node) = OneNodeGraph(symmetric: false);
        graph.Initializers["w_zero_points"] = Initializer.FromFloats("w_zero_points", new float[64], 64);
        Assert.Contains("only the builder's packed uint8 zero points", Assert.Throws<BadInputException>(() => MatMulNBitsWeight.Read(graph, node, "m")).Message);
    }

    [Fact]
    public void CodesOfTheWrongShapeAreRefused()
    {
        var (graph, node) = OneNodeGraph(symmetric: true);
        node.SetAttribute("K", 96L); // codes were written for K=64
        var e = Assert.Throws<InvalidDataException>(() => MatMulNBitsWeight.Read(graph, node, "m"));
        Assert.Contains("B 'w_Q4' is uint8 [64,2,16], expected uint8 [64,3,16]", e.Message);
    }

    private static (Graph Graph, Node Node) OneNodeGraph(bool symmetric)
    {
        var layout = new Int4BlockLayout(64, 64, Block, symmetric);
        var q = Int4Quantizer.Quantize(Random(64 * 64, seed: 1), layout);
        var graph = new Graph();
        AddTensors(graph, "w", q);
        var node = graph.AddNode(MatMulNBits.CreateNode("/lm_head/MatMul", "x", "w", "y", layout, 4));
        return (graph, node);
    }

    private static string SaveOneNodeModel(string path, string weight, Int4BlockLayout layout, Int4Tensors q, int accuracyLevel)
    {
        var graph = new Graph { Name = "one_matmulnbits" };
        AddTensors(graph, weight, q);
        graph.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, "batch", "time", layout.K));
        graph.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, "batch", "time", layout.N));
        graph.AddNode(MatMulNBits.CreateNode("/proj/MatMul", "x", weight, "y", layout, accuracyLevel));
        var model = new Model(graph);
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        ModelWriter.Save(model, path);
        return path;
    }

    private static void AddTensors(Graph graph, string weight, Int4Tensors q)
    {
        graph.AddInitializer(new Initializer(MatMulNBits.CodesName(weight), ElementType.UInt8, q.Layout.CodeDims, TensorData.FromBytes(q.Codes)));
        graph.AddInitializer(new Initializer(MatMulNBits.ScalesName(weight), q.ScaleType, q.Layout.ScaleDims, TensorData.FromBytes(q.Scales)));
        if (q.ZeroPoints is { } zp)
        {
            graph.AddInitializer(new Initializer(MatMulNBits.ZeroPointsName(weight), ElementType.UInt8, q.Layout.ZeroPointDims, TensorData.FromBytes(zp)));
        }
    }

    private static float[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)((rng.NextDouble() * 2) - 1);
        }
        return v;
    }
}
