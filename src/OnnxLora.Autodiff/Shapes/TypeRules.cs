// The element-type rules op records share: every output typed like input 0, or always int64.
// Op-specific ones (Cast's `to`, CastLike's input 1, Dropout's bool mask) sit in their records.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Shapes;

internal static class TypeRules
{
    /// <summary>Every output has input 0's element type.</summary>
    public static ElementType? FromInput0(Node node, int output, Func<string, ElementType?> typeOf) => typeOf(node.Input(0));

    /// <summary>Every output is int64 (Shape, Size).</summary>
    public static ElementType? Int64(Node node, int output, Func<string, ElementType?> typeOf) => ElementType.Int64;
}
