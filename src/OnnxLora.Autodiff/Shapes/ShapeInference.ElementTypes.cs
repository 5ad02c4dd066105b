// Shape inference, part three: element types. Declared (initializers, inputs, value_info) or
// carried through each op's type rule (OpRegistry), computed on demand and remembered. Null when
// unknown: an op without a type rule proves nothing.
using OnnxLora.Autodiff.Ops;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal sealed partial class ShapeInference
{
    private readonly Dictionary<string, ElementType?> _types = new(StringComparer.Ordinal);

    /// <summary>The element type of a forward value, or null when unknown.</summary>
    public ElementType? TypeOf(string value)
    {
        if (_types.TryGetValue(value, out var known))
        {
            return known;
        }
        ElementType? type = null;
        if (_graph.Initializers.TryGetValue(value, out var init))
        {
            type = init.Type;
        }
        else if (_graph.Inputs.Concat(_graph.Extra.ValueInfo).FirstOrDefault(v => v.Name == value) is { Type.TensorType: not null } vi)
        {
            type = (ElementType)vi.Type.TensorType.ElemType;
        }
        else if (Producer(value) is { } p && OpRegistry.Find(p)?.Type is { } rule)
        {
            type = rule(p, p.Outputs.IndexOf(value), TypeOf);
        }
        _types[value] = type;
        return type;
    }
}
