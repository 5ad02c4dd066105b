// Read → write of an ONNX model with external data keeps it loadable by ORT with identical
// outputs, keeps unknown protobuf fields, and never writes a big weight inline.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Tests;

public sealed class ModelRoundTripTests
{
    [Fact]
    public void ExternalDataModelGivesIdenticalOutputsAfterReadWrite()
    {
        using var dir = new TempDir();
        var g = new Graph();
        var rng = new Random(3);
        var w = Enumerable.Range(0, 64 * 32).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        g.AddInitializer(Initializer.FromFloats("w", w, 64, 32));
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, "n", 64));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, "n", 32));
        var b = new GraphBuilder(g);
        b.NodeWithOutputs("Tanh", [b.MatMul("x", "w")], ["y"]);
        var first = dir["a/model.onnx"];
        ModelWriter.Save(new Model(g), first);
        Assert.True(new FileInfo(first + ".data").Length >= w.Length * 4);

        var loaded = ModelReader.Load(first);
        Assert.IsType<ExternalTensorData>(loaded.Graph.Initializers["w"].Data);
        loaded.Header.Graph = null;
        var second = dir["b/model.onnx"];
        ModelWriter.Save(loaded, second);
        Assert.True(new FileInfo(second).Length < w.Length * 4, "the weight must stay external");

        var x = Enumerable.Range(0, 3 * 64).Select(i => (float)Math.Sin(i)).ToArray();
        Assert.Equal(Run(first, x), Run(second, x));
    }

    [Fact]
    public void UnknownFieldsRoundTrip()
    {
        using var dir = new TempDir();
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 2));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, 2));
        new GraphBuilder(g).NodeWithOutputs("Neg", ["x"], ["y"]);
        var model = new Model(g);
        ModelWriter.Save(model, dir["m.onnx"]);
        // Append field 99 (varint 7) to the file: a field our schema does not declare.
        using (var f = new FileStream(dir["m.onnx"], FileMode.Append))
        {
            f.Write([0x98, 0x06, 0x07]);
        }
        var loaded = ModelReader.Load(dir["m.onnx"]);
        ModelWriter.Save(loaded, dir["n.onnx"]);
        var bytes = File.ReadAllBytes(dir["n.onnx"]);
        Assert.Contains(Convert.ToHexString(new byte[] { 0x98, 0x06, 0x07 }), Convert.ToHexString(bytes));
    }

    private static float[] Run(string path, float[] x)
    {
        using var s = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [3, 64]);
        using var r = s.Run(new RunOptions(), ["x"], [input], ["y"]);
        return r[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
