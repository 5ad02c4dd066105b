// Broadcast reductions decided from inferred shapes: symbolic dims ("batch", "time") that two
// values share are equal, so the backward needs no runtime shape arithmetic (Shape, NonZero, Range).
// Each case is checked against central differences and for what ShapeInference proved.
// B=batch, T=time, H=heads, d=head dim
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class ShapeInferenceGradientTests
{
    private static readonly Dim s_batch = new(null, "batch"), s_time = new(null, "time");
    private static readonly SymbolicDim s_b = SymbolicDim.Symbol("batch"), s_t = SymbolicDim.Symbol("time");

    [Fact]
    public void SymbolicBroadcastAgainstOneIsReducedByOneStaticReduceSum()
    {
        // y = x (B,T,4) * s (B,T,1);  ds = Σ_last (GY * x)
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], [s_batch, s_time, 4]);
        var s = c.Input("s", [2, 3, 1], [s_batch, s_time, 1]);
        var y = c.B.Mul(x, s);
        var shapes = new ShapeInference(c.Graph);
        Assert.Equal([s_b, s_t, 4], shapes.Of(y)!);
        var before = c.Graph.Nodes.Count;
        var ds = Broadcasting.ReduceTo(c.B, y, s, shapes, 3, shapes.Of(y)!);
        var emitted = c.Graph.Nodes.Skip(before).ToList();
        Assert.Single(emitted);
        Assert.Equal("ReduceSum", emitted[0].OpType);
        Assert.Equal(ds, emitted[0].Outputs[0]);
        c.Check(y);
    }

    [Fact]
    public void BatchedMatMulWithEqualBatchDimsIsExact()
    {
        // y = a (B,H,T,d) @ b (B,H,d,T);  da, db come back at their own shapes
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 2, 3, 4], [s_batch, 2, s_time, 4]);
        var b = c.Input("b", [2, 2, 4, 3], [s_batch, 2, 4, s_time]);
        var y = c.B.MatMul(a, b);
        var shapes = new ShapeInference(c.Graph);
        var node = c.Graph.Nodes.Single(n => n.OpType == "MatMul");
        Assert.True(Broadcasting.IsExact(node, GradientBroadcast.BatchDims, 0, shapes));
        Assert.True(Broadcasting.IsExact(node, GradientBroadcast.BatchDims, 1, shapes));
        Assert.Equal([s_b, 2, s_t, s_t], shapes.Of(y)!);
        c.Check(y);
    }

    [Fact]
    public void MaskBuiltFromARuntimeLengthHasAStaticShape()
    {
        // causal (T,T) = Range(0,T)[:,None] >= Range(0,T)[None,:], T read from x's shape;  y = Where(causal, x (B,T,T), 0)
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 3], [s_batch, s_time, s_time]);
        var t = c.B.Gather(c.B.Shape(x), c.B.ScalarI64(1));
        var range = c.B.Op("Range", c.B.ScalarI64(0), t, c.B.ScalarI64(1));
        var causal = c.B.Op("GreaterOrEqual", c.B.Unsqueeze(range, 1), c.B.Unsqueeze(range, 0));
        var y = c.B.Where(causal, x, c.B.Scalar(0f));
        var shapes = new ShapeInference(c.Graph);
        Assert.Equal([s_t, s_t], shapes.Of(causal)!);
        Assert.True(Broadcasting.IsExact(c.Graph.Nodes.Single(n => n.OpType == "Where"), GradientBroadcast.Elementwise, 1, shapes));
        c.Check(y);
    }

    [Fact]
    public void ReshapeToMinusOneOverSymbolsGivesTheirProduct()
    {
        // (B,T,4) → (-1, 4) = (B·T, 4) → back to Shape(x): the same symbols again
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], [s_batch, s_time, 4]);
        var flat = c.B.Reshape(x, -1, 4);
        var back = c.B.Reshape(flat, c.B.Shape(x));
        var shapes = new ShapeInference(c.Graph);
        Assert.Equal([s_b * s_t, 4], shapes.Of(flat)!);
        Assert.Equal([s_b, s_t, 4], shapes.Of(back)!);
        c.Check(back);
    }
}
