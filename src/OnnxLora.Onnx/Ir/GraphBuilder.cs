// Appends nodes to a graph with fresh, readable names and typed helpers for the standard ops
// OnnxLora emits (importer, lowering, autodiff, optimizer). Constants are deduplicated
// initializers. It does not check schemas or shapes; ORT does that when a session loads.
using System.Globalization;

namespace OnnxLora.Onnx.Ir;

public sealed class GraphBuilder(Graph graph, string scope = "")
{
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    public Graph Graph { get; } = graph;

    /// <summary>Prefix for new node and value names, e.g. "/model/layers.0/attn/".</summary>
    public string Scope { get; set; } = scope;

    /// <summary>Adds a node and returns its output names.</summary>
    public string[] Node(string opType, IReadOnlyList<string> inputs, int outputs = 1, string domain = "",
        params (string Name, object Value)[] attributes)
    {
        var nodeName = Graph.UniqueName(Scope + opType);
        var outs = new string[outputs];
        for (int i = 0; i < outputs; i++)
        {
            outs[i] = Graph.UniqueName(nodeName + "/output_" + i.ToString(CultureInfo.InvariantCulture));
        }
        var node = new Node(opType, nodeName, inputs, outs, domain);
        foreach (var (name, value) in attributes)
        {
            node.SetAttribute(name, value);
        }
        Graph.AddNode(node);
        return outs;
    }

    /// <summary>Adds a node whose outputs have caller-chosen names.</summary>
    public Node NodeWithOutputs(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, string domain = "",
        params (string Name, object Value)[] attributes)
    {
        var node = new Node(opType, Graph.UniqueName(Scope + opType), inputs, outputs, domain);
        foreach (var (name, value) in attributes)
        {
            node.SetAttribute(name, value);
        }
        return Graph.AddNode(node);
    }

    public string Op(string opType, params string[] inputs) => Node(opType, inputs)[0];

    public string Op(string opType, string[] inputs, params (string Name, object Value)[] attributes) =>
        Node(opType, inputs, 1, "", attributes)[0];

    // ---- constants -------------------------------------------------------------------------

    public string Scalar(float value) => Constant($"f32:{BitConverter.SingleToInt32Bits(value)}",
        () => Initializer.FromFloats("", [value]));

    public string ScalarI64(long value) => Constant($"i64s:{value}", () => Initializer.FromInt64s("", [value]));

    /// <summary>A 1-D int64 tensor (shapes, axes, starts/ends).</summary>
    public string Ints(params long[] values) => Constant("i64:" + string.Join(",", values),
        () => Initializer.FromInt64s("", values, values.Length));

    public string Floats(float[] values, params long[] dims) =>
        AddInitializer(Initializer.FromFloats(Graph.UniqueName(Scope + "const"), values, dims));

    public string AddInitializer(Initializer init)
    {
        if (init.Name.Length == 0 || Graph.IsInitializer(init.Name))
        {
            init.Name = Graph.UniqueName(Scope + "const");
        }
        Graph.AddInitializer(init);
        return init.Name;
    }

    private string Constant(string key, Func<Initializer> make)
    {
        if (_constants.TryGetValue(key, out var name) && Graph.IsInitializer(name))
        {
            return name;
        }
        var init = make();
        init.Name = Graph.UniqueName("const_" + Sanitize(key));
        Graph.AddInitializer(init);
        _constants[key] = init.Name;
        return init.Name;
    }

    private static string Sanitize(string key)
    {
        var s = new string(key.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());
        return s.Length > 40 ? s[..40] : s;
    }

    // ---- elementwise -----------------------------------------------------------------------

    public string Add(string a, string b) => Op("Add", a, b);

    public string Sub(string a, string b) => Op("Sub", a, b);

    public string Mul(string a, string b) => Op("Mul", a, b);

    public string Div(string a, string b) => Op("Div", a, b);

    public string Pow(string a, string b) => Op("Pow", a, b);

    public string Neg(string a) => Op("Neg", a);

    public string Sqrt(string a) => Op("Sqrt", a);

    public string Exp(string a) => Op("Exp", a);

    public string Log(string a) => Op("Log", a);

    public string Reciprocal(string a) => Op("Reciprocal", a);

    public string Sigmoid(string a) => Op("Sigmoid", a);

    public string Tanh(string a) => Op("Tanh", a);

    public string Identity(string a) => Op("Identity", a);

    public string Equal(string a, string b) => Op("Equal", a, b);

    public string Not(string a) => Op("Not", a);

    public string Where(string cond, string a, string b) => Op("Where", cond, a, b);

    public string Cast(string a, ElementType to) => Op("Cast", [a], ("to", (long)to));

    public string MatMul(string a, string b) => Op("MatMul", a, b);

    public string Softmax(string a, long axis = -1) => Op("Softmax", [a], ("axis", axis));

    public string LogSoftmax(string a, long axis = -1) => Op("LogSoftmax", [a], ("axis", axis));

    // ---- shape -----------------------------------------------------------------------------

    public string Transpose(string a, params long[] perm) => Op("Transpose", [a], ("perm", perm));

    public string Reshape(string a, string shape) => Op("Reshape", a, shape);

    public string Reshape(string a, params long[] shape) => Op("Reshape", a, Ints(shape));

    public string Shape(string a) => Op("Shape", a);

    public string Shape(string a, long start, long end) => Op("Shape", [a], ("start", start), ("end", end));

    public string Unsqueeze(string a, params long[] axes) => Op("Unsqueeze", a, Ints(axes));

    public string Squeeze(string a, params long[] axes) => Op("Squeeze", a, Ints(axes));

    public string Concat(long axis, params string[] inputs) => Op("Concat", inputs, ("axis", axis));

    public string Expand(string a, string shape) => Op("Expand", a, shape);

    public string Gather(string data, string indices, long axis = 0) => Op("Gather", [data, indices], ("axis", axis));

    public string Slice(string a, long[] starts, long[] ends, long[] axes, long[]? steps = null) =>
        steps is null
            ? Op("Slice", a, Ints(starts), Ints(ends), Ints(axes))
            : Op("Slice", a, Ints(starts), Ints(ends), Ints(axes), Ints(steps));

    public string[] Split(string a, long axis, params long[] sizes) =>
        Node("Split", [a, Ints(sizes)], sizes.Length, "", ("axis", axis));

    public string ReduceSum(string a, long[] axes, bool keepDims) =>
        Op("ReduceSum", [a, Ints(axes)], ("keepdims", keepDims ? 1L : 0L));

    public string ReduceMean(string a, long[] axes, bool keepDims) =>
        Op("ReduceMean", [a, Ints(axes)], ("keepdims", keepDims ? 1L : 0L));
}
