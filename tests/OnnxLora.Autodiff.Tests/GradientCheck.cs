// Test harness for one gradient rule: build a tiny forward graph, set loss = Σ y·R for fixed
// random R, differentiate with GradientBuilder, run on ORT CPU and compare every analytic
// gradient element with a central finite difference of the forward loss. Float32 inputs only are wrt.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Autodiff.Tests;

internal sealed class GradientCheck : IDisposable
{
    /// <summary>Central-difference step for float32 inputs of magnitude ~1.</summary>
    public const float Epsilon = 1e-2f;

    /// <summary>|analytic - numeric| ≤ tol · max(1, |numeric|) for float32 graphs.</summary>
    public const double Float32Tolerance = 2e-3;

    private readonly Random _random;
    private readonly Dictionary<string, (Array Data, long[] Shape)> _feeds = new(StringComparer.Ordinal);
    private readonly List<string> _wrt = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("onnxlora-autodiff-").FullName;

    public GradientCheck(int seed = 1234)
    {
        _random = new Random(seed);
        Model = new Model(Graph);
        B = new GraphBuilder(Graph);
    }

    public Graph Graph { get; } = new();

    public Model Model { get; }

    public GraphBuilder B { get; }

    /// <summary>Options for the gradient builder (AddOutputs is always set).</summary>
    public GradientOptions Options { get; set; } = new();

    /// <summary>The backward result of the last Check/Differentiate call.</summary>
    public IReadOnlyDictionary<string, string> Gradients { get; private set; } = new Dictionary<string, string>();

    /// <summary>A float32 graph input with seeded values in [lo, hi); dynamic declares symbolic dims.</summary>
    public string Input(string name, long[] shape, bool dynamic = false, bool wrt = true, float lo = -1f, float hi = 1f) =>
        Input(name, shape, [.. shape.Select((d, k) => dynamic ? new Dim(null, $"{name}_d{k}") : (Dim)d)], wrt, lo, hi);

    /// <summary>A float32 graph input declared with the given dims (symbols shared between inputs mean equal sizes).</summary>
    public string Input(string name, long[] shape, Dim[] dims, bool wrt = true, float lo = -1f, float hi = 1f)
    {
        Graph.Inputs.Add(Graph.MakeValueInfo(name, ElementType.Float, dims));
        _feeds[name] = (RandomFloats(shape, lo, hi), shape);
        if (wrt)
        {
            _wrt.Add(name);
        }
        return name;
    }

    public string Int64Input(string name, long[] values, params long[] shape)
    {
        Graph.Inputs.Add(Graph.MakeValueInfo(name, ElementType.Int64, [.. shape.Select(d => (Dim)d)]));
        _feeds[name] = (values, shape);
        return name;
    }

    public string BoolInput(string name, bool[] values, params long[] shape)
    {
        Graph.Inputs.Add(Graph.MakeValueInfo(name, ElementType.Bool, [.. shape.Select(d => (Dim)d)]));
        _feeds[name] = (values, shape);
        return name;
    }

    /// <summary>A frozen float32 initializer with seeded values.</summary>
    public string Weight(string name, params long[] shape) =>
        B.AddInitializer(Initializer.FromFloats(name, RandomFloats(shape, -1f, 1f), shape));

    /// <summary>Adds loss = Σ_k ReduceSum(y_k · R_k) and the gradients; returns the loss name.</summary>
    public string Differentiate(params string[] outputs)
    {
        var shapes = Run(Save("probe.onnx", outputs), outputs, _feeds).Select(r => r.Shape).ToArray();
        string? loss = null;
        for (int k = 0; k < outputs.Length; k++)
        {
            var r = B.Floats(RandomFloats(shapes[k], -1f, 1f), shapes[k]);
            var term = B.Op("ReduceSum", [B.Mul(outputs[k], r)], ("keepdims", 0L));
            loss = loss is null ? term : B.Add(loss, term);
        }
        Graph.Outputs.Clear();
        Graph.Outputs.Add(FloatOutput(loss!));
        Save("forward.onnx", [loss!]);
        Gradients = GradientBuilder.AddGradients(Model, loss!, _wrt, Options with { AddOutputs = true });
        return loss!;
    }

    /// <summary>Differentiates, then asserts every gradient element matches central differences.</summary>
    public void Check(params string[] outputs)
    {
        var loss = Differentiate(outputs);
        var gradPath = Path.Combine(_dir, "grad.onnx");
        ModelWriter.Save(Model, gradPath);
        var analytic = Run(gradPath, [.. _wrt.Select(w => Gradients[w])], _feeds);
        using var forward = new InferenceSession(Path.Combine(_dir, "forward.onnx"));
        for (int w = 0; w < _wrt.Count; w++)
        {
            var (data, shape) = _feeds[_wrt[w]];
            var x = (float[])data;
            Assert.Equal(shape, analytic[w].Shape);
            for (int j = 0; j < x.Length; j++)
            {
                var numeric = Difference(forward, loss, _wrt[w], x, shape, j);
                var error = Math.Abs(analytic[w].Data[j] - numeric);
                Assert.True(error <= Float32Tolerance * Math.Max(1.0, Math.Abs(numeric)),
                    $"d loss / d {_wrt[w]}[{j}]: analytic {analytic[w].Data[j]}, numeric {numeric}");
            }
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private double Difference(InferenceSession forward, string loss, string name, float[] x, long[] shape, int j)
    {
        var original = x[j];
        var feeds = new Dictionary<string, (Array Data, long[] Shape)>(_feeds) { [name] = (x, shape) };
        x[j] = original + Epsilon;
        double plus = Run(forward, [loss], feeds)[0].Data[0];
        x[j] = original - Epsilon;
        double minus = Run(forward, [loss], feeds)[0].Data[0];
        x[j] = original;
        return (plus - minus) / (2 * Epsilon);
    }

    private string Save(string file, string[] outputs)
    {
        Graph.Outputs.Clear();
        Graph.Outputs.AddRange(outputs.Select(FloatOutput));
        var path = Path.Combine(_dir, file);
        ModelWriter.Save(Model, path);
        return path;
    }

    private static ValueInfoProto FloatOutput(string name) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)ElementType.Float } } };

    private static List<(float[] Data, long[] Shape)> Run(string path, string[] outputs, Dictionary<string, (Array Data, long[] Shape)> feeds)
    {
        using var session = new InferenceSession(path);
        return Run(session, outputs, feeds);
    }

    private static List<(float[] Data, long[] Shape)> Run(InferenceSession session, string[] outputs, Dictionary<string, (Array Data, long[] Shape)> feeds)
    {
        var values = feeds.ToDictionary(f => f.Key, f => f.Value.Data switch
        {
            float[] v => OrtValue.CreateTensorValueFromMemory(v, f.Value.Shape),
            long[] v => OrtValue.CreateTensorValueFromMemory(v, f.Value.Shape),
            bool[] v => OrtValue.CreateTensorValueFromMemory(v, f.Value.Shape),
            _ => throw new ArgumentException($"feed '{f.Key}' has an unsupported element type"),
        });
        try
        {
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, values, outputs);
            return [.. results.Select(r => (r.GetTensorDataAsSpan<float>().ToArray(), r.GetTensorTypeAndShape().Shape))];
        }
        finally
        {
            foreach (var v in values.Values)
            {
                v.Dispose();
            }
        }
    }

    private float[] RandomFloats(long[] shape, float lo, float hi)
    {
        var values = new float[Initializer.ElementCount(shape)];
        for (int k = 0; k < values.Length; k++)
        {
            values[k] = lo + (hi - lo) * _random.NextSingle();
        }
        return values;
    }
}
