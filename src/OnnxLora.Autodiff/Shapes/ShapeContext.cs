// What a shape rule sees of one node while ShapeInference runs: the shapes it has so far, the
// constant int64 initializers, the dims that shape tensors hold, and where to record what the
// node proves besides its output 0 shape. Rules never write shapes of other nodes' outputs.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal sealed class ShapeContext(Node node, ShapeInference shapes, Graph graph)
{
    public Node Node { get; } = node;

    /// <summary>The shape of a value, or null when not (yet) known.</summary>
    public SymbolicDim[]? Of(string value) => shapes.Of(value);

    /// <summary>The shape of input i, or null.</summary>
    public SymbolicDim[]? Input(int i) => shapes.Of(Node.Input(i));

    /// <summary>The values of an int64 initializer, or null (not an initializer, another type, or no input).</summary>
    public long[]? Ints(string value) =>
        value.Length > 0 && graph.Initializers.TryGetValue(value, out var init) && init.Type == ElementType.Int64 ? init.ToInt64s() : null;

    /// <summary>The rank of an initializer, or null.</summary>
    public int? ConstantRank(string value) => graph.Initializers.TryGetValue(value, out var init) ? init.Dims.Length : null;

    /// <summary>The dims a 1-D shape tensor holds (Shape of a known shape, and Gathers/Concats of those), or null.</summary>
    public SymbolicDim[]? ShapeValue(string value) => shapes.ShapeValue(value);

    /// <summary>The one dim a scalar gathered from a shape tensor holds, or null.</summary>
    public SymbolicDim? DimValue(string value) => shapes.DimValue(value);

    /// <summary>Records the shape of output i (for ops with several outputs).</summary>
    public void SetOutput(int i, SymbolicDim[] shape) => shapes.Set(Node.Outputs[i], shape);

    /// <summary>Records the dims a 1-D int64 output holds; the first record stays.</summary>
    public void SetShapeValue(string output, SymbolicDim[] dims) => shapes.SetShapeValue(output, dims);

    /// <summary>Records the one dim a scalar int64 output holds; the first record stays.</summary>
    public void SetDimValue(string output, SymbolicDim dim) => shapes.SetDimValue(output, dim);
}
