// Shape inference, part two: the dims that shape tensors hold. Shape(x) of a known shape holds x's
// dims; Gather of constant indices and Concat with constant 1-D ints keep them (e.g. the target of a
// Reshape built from Shape(x)); a scalar gathered from one holds one dim (T, the bound of a Range).
// Only values whose every dim is proved are recorded; nothing is evaluated.
namespace OnnxLora.Autodiff.Shapes;

internal sealed partial class ShapeInference
{
    private readonly Dictionary<string, SymbolicDim[]> _shapeValues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SymbolicDim> _dimValues = new(StringComparer.Ordinal);

    private int ShapeValueCount => _shapeValues.Count + _dimValues.Count;

    /// <summary>The dims a 1-D int64 value holds, or null.</summary>
    public SymbolicDim[]? ShapeValue(string value) => _shapeValues.GetValueOrDefault(value);

    /// <summary>The one dim a scalar int64 value holds, or null.</summary>
    public SymbolicDim? DimValue(string value) => _dimValues.TryGetValue(value, out var d) ? d : null;

    internal void SetShapeValue(string value, SymbolicDim[] dims) => _shapeValues.TryAdd(value, dims);

    internal void SetDimValue(string value, SymbolicDim dim) => _dimValues.TryAdd(value, dim);

    private void AliasShapeValue(string copy, string original)
    {
        if (_shapeValues.TryGetValue(original, out var v))
        {
            _shapeValues[copy] = v;
        }
        if (_dimValues.TryGetValue(original, out var d))
        {
            _dimValues[copy] = d;
        }
    }
}
