// Op records of shape, index and constant producers: Shape, Size, Range, ConstantOfShape, NonZero,
// Constant, OneHot. No gradient flows through them. Shape and Range matter to shape inference: the
// dims a Shape output holds feed Reshape/Expand/Slice targets, and Range(0, T) has shape (T).
using OnnxLora.Autodiff.Shapes;

namespace OnnxLora.Autodiff.Ops;

internal static class IndexOps
{
    public static readonly OpRecord[] Records =
    [
        // Y = Shape(X, start, end): int64, holds X's dims
        new("Shape") { StopsGradient = OpRecord.Always, Shape = ShapeRules.Shape, Type = TypeRules.Int64 },
        // Y = Size(X): int64 scalar
        new("Size") { StopsGradient = OpRecord.Always, Type = TypeRules.Int64 },
        // Y = Range(start, limit, delta)
        new("Range") { StopsGradient = OpRecord.Always, Shape = ShapeRules.Range },
        new("ConstantOfShape") { StopsGradient = OpRecord.Always },
        new("NonZero") { StopsGradient = OpRecord.Always },
        new("Constant") { StopsGradient = OpRecord.Always },
        new("OneHot") { StopsGradient = OpRecord.Always },
    ];
}
