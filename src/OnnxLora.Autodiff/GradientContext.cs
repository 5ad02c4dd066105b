// What a gradient rule sees of one forward node: its inputs I(i), outputs O(i), the gradients
// arriving at its outputs GO(i), which inputs need a gradient, its attributes, and a builder
// (with short arithmetic helpers) for emitting backward nodes. Rules never see other nodes.
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Autodiff;

public sealed class GradientContext
{
    private readonly Func<int, string?> _outputGrad;
    private readonly Func<int, bool> _requires;
    private readonly ShapeInference _shapes;

    private readonly Func<string, string> _forward;
    private readonly Dictionary<string, string> _memo;
    private readonly GradientOptions _options;

    internal GradientContext(Node node, GraphBuilder builder, Func<int, string?> outputGrad, Func<int, bool> requires, ShapeInference shapes,
        GradientOptions options, Func<string, string>? forward = null, Dictionary<string, string>? memo = null)
    {
        _options = options;
        _memo = memo ?? new Dictionary<string, string>(StringComparer.Ordinal);
        _forward = forward ?? (v => v);
        Node = node;
        B = builder;
        _outputGrad = outputGrad;
        _requires = requires;
        _shapes = shapes;
    }

    internal ShapeInference Shapes => _shapes;

    internal GradientOptions Options => _options;

    /// <summary>The forward node producing <paramref name="value"/>, or null (graph input, initializer, unknown).</summary>
    internal Node? Producer(string value) => _shapes.Producer(value);

    public Node Node { get; }

    public GraphBuilder B { get; }

    /// <summary>Gradient arriving at output i, or null when no path from it reaches the loss.</summary>
    public string? GO(int i) => _outputGrad(i);

    /// <summary>Gradient at output 0, for single-output ops (a rule only runs when some GO exists).</summary>
    public string GY => GO(0) ?? throw new InvalidOperationException($"{Node}: no gradient arrives at output 0");

    /// <summary>Forward input i as the backward pass should read it (a recomputed copy where the forward value is not kept).</summary>
    public string I(int i) => _forward(Node.Input(i));

    /// <summary>Any forward value as the backward pass should read it (a recomputed copy where it is not kept).</summary>
    internal string Forward(string value) => _forward(value);

    /// <summary>Forward output i as the backward pass should read it (see <see cref="I"/>).</summary>
    public string O(int i) => i < Node.Outputs.Count ? _forward(Node.Outputs[i]) : "";

    public int InputCount => Node.Inputs.Count;

    /// <summary>Whether input i lies on a path from a wrt value to the loss.</summary>
    public bool Requires(int i) => _requires(i);

    /// <summary>The gradient for input i if it is required, else null (and nothing is emitted).</summary>
    public string? Need(int i, Func<string> grad) => Requires(i) ? grad() : null;

    public long Int(string attribute, long fallback) => Node.GetInt(attribute, fallback);

    public long[]? Ints(string attribute) => Node.GetInts(attribute);

    public float Float(string attribute, float fallback) => Node.GetFloat(attribute, fallback);

    public string? String(string attribute) => Node.GetString(attribute);

    /// <summary>Declared rank of a value, or null when nothing static says.</summary>
    public int? Rank(string value) => _shapes.Rank(value);

    /// <summary>The values of an int64/int32 initializer or Constant node; null when not constant here.</summary>
    public long[]? ConstantInts(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }
        if (B.Graph.Initializers.TryGetValue(value, out var init))
        {
            return init.Type is ElementType.Int64 or ElementType.Int32 ? init.ToInt64s() : null;
        }
        var constant = B.Graph.Nodes.FirstOrDefault(n => n.OpType == "Constant" && n.Outputs.Contains(value));
        return constant?.Attribute("value")?.T is { } t ? IntsOf(t) : null;
    }

    /// <summary>
    /// A value shared by every rule of one backward pass: made on first request under <paramref name="key"/>
    /// (e.g. the transpose of a weight that several chunks' rules need), so ORT does not fold duplicates.
    /// </summary>
    public string Shared(string key, Func<string> make)
    {
        if (!_memo.TryGetValue(key, out var value))
        {
            _memo[key] = value = make();
        }
        return value;
    }

    public string Zero => Scalar(0f);

    public string One => Scalar(1f);

    /// <summary>A scalar constant typed like this node's gradient (float32 as is; fp16/bf16 graphs through CastLike).</summary>
    public string Scalar(float value) =>
        _options.LowPrecision ? B.Op("CastLike", B.Scalar(value), GO(0) ?? O(0)) : B.Scalar(value);

    public string Add(string a, string b) => B.Add(a, b);

    public string Sub(string a, string b) => B.Sub(a, b);

    public string Mul(string a, string b) => B.Mul(a, b);

    public string Div(string a, string b) => B.Div(a, b);

    public string Neg(string a) => B.Neg(a);

    private static long[]? IntsOf(TensorProto t) => (ElementType)t.DataType switch
    {
        ElementType.Int64 when t.Int64Data.Count > 0 => t.Int64Data.ToArray(),
        ElementType.Int64 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray(),
        ElementType.Int32 when t.Int32Data.Count > 0 => t.Int32Data.Select(v => (long)v).ToArray(),
        ElementType.Int32 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(t.RawData.Span).ToArray().Select(v => (long)v).ToArray(),
        _ => null,
    };
}
