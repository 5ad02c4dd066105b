// The op registry as one record per op: nothing the separate lists knew before was lost (gradient
// table, non-differentiable set, StaticShapes' shape and type sets, Broadcasting's ops, the views of
// SavedActivations); records propagate shapes and types through a small graph; records are keyed on
// domain; an op without a record or rule fails loudly. B=batch, T=time.
using OnnxLora.Autodiff.Ops;
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class OpRegistryTests
{
    // The lists as they stood before the registry (GradientRules.Table, GradientRules.NonDifferentiable,
    // StaticShapes' shape-rule dispatch and s_typePreserving, Broadcasting.Ops, SavedActivations.s_views).
    private static readonly string[] s_gradientTable =
    [
        "Add", "Sub", "Mul", "Div", "Sum", "Neg", "Identity", "Pow", "Sqrt", "Reciprocal", "Exp", "Log", "Sigmoid", "Tanh", "Erf",
        "Max", "Min", "Softmax", "LogSoftmax", "ReduceSum", "ReduceMean", "MatMul", "Transpose", "Reshape", "Squeeze", "Unsqueeze",
        "Flatten", "Expand", "Concat", "Split", "Slice", "Gather", "Where", "Cast", "Trilu", "Dropout", "SoftmaxCrossEntropyLoss",
    ];

    private static readonly string[] s_nonDifferentiable =
    [
        "Shape", "Size", "Range", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor",
        "ConstantOfShape", "NonZero", "ArgMax", "ArgMin", "Constant", "OneHot", "IsNaN", "IsInf", "Sign", "Floor", "Ceil", "Round",
    ];

    private static readonly string[] s_shapeRules =
    [
        "Identity", "Neg", "Sqrt", "Exp", "Log", "Sigmoid", "Tanh", "Reciprocal", "Relu", "Erf", "Softmax", "LogSoftmax", "Cast",
        "CastLike", "Dropout", "Trilu", "Transpose", "Not", "Split", "Add", "Sub", "Mul", "Div", "Pow", "Where", "Max", "Min", "Sum",
        "Equal", "And", "Or", "Xor", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "MatMul", "Gather", "Range", "Reshape",
        "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss", "Expand", "ReduceSum", "ReduceMean", "Unsqueeze", "Slice", "Shape", "Concat",
    ];

    private static readonly string[] s_typeRules =
    [
        "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Sqrt", "Exp", "Log", "Sigmoid", "Tanh", "Reciprocal", "Relu", "Erf", "Softmax",
        "LogSoftmax", "MatMul", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Concat", "Split", "Slice", "Gather",
        "Identity", "Dropout", "Trilu", "ReduceSum", "ReduceMean", "Max", "Min", "SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss",
        "Sum", "Cast", "CastLike", "Shape", "Size",
    ];

    private static readonly string[] s_broadcasting = ["Add", "Sub", "Mul", "Div", "Pow", "Where", "Max", "Min", "Sum", "MatMul"];

    private static readonly string[] s_views = ["Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"];

    private static readonly Dim s_batch = new(null, "batch"), s_time = new(null, "time");
    private static readonly SymbolicDim s_b = SymbolicDim.Symbol("batch"), s_t = SymbolicDim.Symbol("time");

    [Fact]
    public void EveryOpOfTheFormerGradientTableHasARecordWithAGradientRule()
    {
        foreach (var op in s_gradientTable)
        {
            Assert.True(OpRegistry.Find(new OpKey("", op))?.Gradient is not null, $"{op} lost its gradient rule");
        }
    }

    [Fact]
    public void EveryFormerlyNonDifferentiableOpStopsTheGradient()
    {
        foreach (var op in s_nonDifferentiable)
        {
            Assert.True(OpRegistry.StopsGradient(new Node(op, "n", ["x"], ["y"])), $"{op} no longer stops the gradient");
        }
        Assert.True(OpRegistry.StopsGradient(new Node("Cast", "c", ["x"], ["y"]).SetAttribute("to", (long)ElementType.Int64)));
        Assert.False(OpRegistry.StopsGradient(new Node("Cast", "c", ["x"], ["y"]).SetAttribute("to", (long)ElementType.Float16)));
        Assert.False(OpRegistry.StopsGradient(new Node("Mul", "m", ["x", "x"], ["y"])));
    }

    [Fact]
    public void ShapeTypeBroadcastAndViewFactsOfTheFormerListsAreKept()
    {
        Assert.All(s_shapeRules, op => Assert.True(Record(op).Shape is not null, $"{op} lost its shape rule"));
        Assert.All(s_typeRules, op => Assert.True(Record(op).Type is not null, $"{op} lost its type rule"));
        Assert.Equal(s_broadcasting.Order(), OpRegistry.All.Where(r => r.Broadcast != GradientBroadcast.None).Select(r => r.Key.OpType).Order());
        Assert.Equal(GradientBroadcast.BatchDims, Record("MatMul").Broadcast);
        Assert.Equal(s_views.Order(), OpRegistry.All.Where(r => r.IsView).Select(r => r.Key.OpType).Order());
    }

    [Fact]
    public void RecordsAreKeyedOnDomainAndOpType()
    {
        Assert.Same(Record("Mul"), OpRegistry.Find(new OpKey("ai.onnx", "Mul")));
        Assert.Null(OpRegistry.Find(new OpKey(Model.MicrosoftDomain, "Mul")));
        Assert.Equal(OpRegistry.All.Count, OpRegistry.All.Select(r => r.Key).Distinct().Count());
        Assert.Equal("com.microsoft:MatMulNBits", new OpKey(Model.MicrosoftDomain, "MatMulNBits").ToString());

        // a contrib node that shares a standard op's name proves nothing and has no rule
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, s_batch, 4));
        var b = new GraphBuilder(g);
        var y = b.Node("Mul", ["x", "x"], 1, Model.MicrosoftDomain)[0];
        var shapes = new ShapeInference(g);
        Assert.Null(shapes.Of(y));
        Assert.Null(shapes.TypeOf(y));
        var error = Assert.Throws<BadInputException>(() => OpRegistry.GradientOf(g.Nodes.Single()));
        Assert.Equal($"no gradient rule for op 'com.microsoft:Mul' (node '{g.Nodes.Single().Name}')", error.Message);
    }

    [Fact]
    public void RecordsPropagateShapesAndTypesThroughASmallGraph()
    {
        // x (B,T,4) fp16 @ w (4,6) → (B,T,6) → Reshape(-1, 6) → (B·T, 6) → Cast float → Softmax;
        // T = Shape(x)[1] → Range(0, T) (T); Concat of the hidden dims; ReduceMean; Split; Transpose; Shape → int64
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float16, s_batch, s_time, 4));
        var b = new GraphBuilder(g);
        var w = b.AddInitializer(new Initializer("w", ElementType.Float16, [4, 6], TensorData.FromBytes(new byte[4 * 6 * 2])));
        var y = b.MatMul("x", w);
        var flat = b.Reshape(y, -1, 6);
        var p = b.Softmax(b.Cast(flat, ElementType.Float));
        var t = b.Gather(b.Shape("x"), b.ScalarI64(1));
        var range = b.Op("Range", b.ScalarI64(0), t, b.ScalarI64(1));
        var joined = b.Concat(-1, "x", y);
        var mean = b.ReduceMean(joined, [-1], keepDims: false);
        var parts = b.Split(joined, 2, 3, 7);
        var swapped = b.Transpose(parts[1], 2, 0, 1);
        var back = b.Reshape(flat, b.Concat(0, b.Shape("x", 0, 2), b.Ints(6))); // (B,T,6) from a shape value
        var shapes = new ShapeInference(g);

        Assert.Equal([s_b, s_t, 6], shapes.Of(y)!);
        Assert.Equal([s_b * s_t, 6], shapes.Of(flat)!);
        Assert.Equal([s_b * s_t, 6], shapes.Of(p)!);
        Assert.Equal([s_t], shapes.Of(range)!);
        Assert.Equal([s_b, s_t, 10], shapes.Of(joined)!);
        Assert.Equal([s_b, s_t], shapes.Of(mean)!);
        Assert.Equal([s_b, s_t, 3], shapes.Of(parts[0])!);
        Assert.Equal([7, s_b, s_t], shapes.Of(swapped)!);
        Assert.Equal([s_b, s_t, 6], shapes.Of(back)!);
        Assert.Equal(ElementType.Float16, shapes.TypeOf(flat));
        Assert.Equal(ElementType.Float, shapes.TypeOf(p));
        Assert.Equal(ElementType.Float16, shapes.TypeOf(parts[1]));
        Assert.Equal(ElementType.Int64, shapes.TypeOf(t));
    }

    [Fact]
    public void OpsWithoutARecordProveNothing()
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, s_batch, 4));
        var b = new GraphBuilder(g);
        var y = b.Op("Cos", "x");
        var z = b.Exp(y);
        var shapes = new ShapeInference(g);
        Assert.Null(shapes.Of(y));
        Assert.Null(shapes.Of(z));
        Assert.Null(shapes.TypeOf(y));
        Assert.Equal([s_b, 4], shapes.Of("x")!);
    }

    [Fact]
    public void AnOpWithARecordButNoGradientRuleFailsNamingOpAndNode()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        var y = c.B.Op("Relu", x);
        var node = c.Graph.Nodes.Single(n => n.OpType == "Relu");
        var error = Assert.Throws<BadInputException>(() => c.Differentiate(y));
        Assert.Equal($"no gradient rule for op 'Relu' (node '{node.Name}')", error.Message);
    }

    private static OpRecord Record(string op) => OpRegistry.Find(new OpKey("", op)) ?? throw new Xunit.Sdk.XunitException($"{op} has no record");
}
