// The declared type of a graph input or output: element type and dims (numbers or symbols).
namespace OnnxLora.Onnx.Ir;

public sealed record TensorType(ElementType Element, Dim[] Shape)
{
    public override string ToString() => $"{Element.OnnxName()}[{string.Join(",", Shape.Select(d => d.ToString()))}]";
}
