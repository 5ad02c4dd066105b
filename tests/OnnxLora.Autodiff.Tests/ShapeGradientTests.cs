// Finite-difference checks of the data-movement and reduction rules: Transpose, Reshape,
// Squeeze/Unsqueeze, Concat, Split, Slice, Expand, Gather, Trilu, Softmax, LogSoftmax, Reduce*.
namespace OnnxLora.Autodiff.Tests;

public sealed class ShapeGradientTests
{
    [Fact]
    public void TransposeReshapeChainMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true);
        var t = c.B.Transpose(x, 2, 0, 1);                 // (4,2,3)
        c.Check(c.B.Exp(c.B.Reshape(t, 8, 3)));
    }

    [Fact]
    public void SqueezeUnsqueezeChainMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 1, 3]);
        var s = c.B.Squeeze(x, 1);                          // (2,3)
        c.Check(c.B.Tanh(c.B.Unsqueeze(s, 0, -1)));         // (1,2,3,1)
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public void ConcatSplitsGradientBySizes(long axis)
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3, 2], dynamic: true);
        var b = c.Input("b", axis == 1 ? [2, 2, 1] : [2, 3, 1]);
        var y = axis == 1 ? c.B.Concat(1, a, c.B.Transpose(b, 0, 2, 1)) : c.B.Concat(-1, a, b);
        c.Check(c.B.Mul(y, y));
    }

    [Fact]
    public void ConcatOfTheSameValueTwiceSumsBothParts()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3]);
        c.Check(c.B.Concat(0, a, c.B.Exp(a), a));
    }

    [Fact]
    public void SplitWithAnUnusedOutputPadsZeros()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 6]);
        var parts = c.B.Split(x, 1, 1, 2, 3);
        c.Check(c.B.Exp(parts[0]), parts[2]);
    }

    [Theory]
    [InlineData(new long[] { 1 }, new long[] { 3 }, new long[] { 1 })]
    [InlineData(new long[] { -3, 0 }, new long[] { long.MaxValue, -1 }, new long[] { 2, 0 })]
    [InlineData(new long[] { -100 }, new long[] { 2 }, new long[] { -1 })]
    public void SliceWithUnitStepsPadsGradientBack(long[] starts, long[] ends, long[] axes)
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [3, 4, 5], dynamic: true);
        c.Check(c.B.Sigmoid(c.B.Slice(x, starts, ends, axes)));
    }

    [Fact]
    public void SliceWithoutAxesUsesLeadingAxes()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [3, 4]);
        c.Check(c.B.Op("Slice", x, c.B.Ints(1, 1), c.B.Ints(3, 3)));
    }

    /// <summary>Pad's gradient is the unpadded window of the incoming gradient: all axes, given axes, and pads computed at run time.</summary>
    [Fact]
    public void PadGradientSlicesTheUnpaddedWindow()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true);
        var padded = c.B.Op("Pad", x, c.B.Ints(0, 2, 1, 1, 0, 3));
        var onAxes = c.B.Op("Pad", x, c.B.Ints(1, 2, 0, 1), c.B.Scalar(0f), c.B.Ints(0, 2));
        var computed = c.B.Op("Pad", x, c.B.Concat(0, c.B.Ints(0, 1), c.B.Shape(x, 0, 1), c.B.Ints(0, 0, 2)));
        c.Check(padded, onAxes, computed);
    }

    [Fact]
    public void PadGradientRefusesReflectMode()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        var e = Assert.ThrowsAny<Exception>(() => c.Check(c.B.Op("Pad", [x, c.B.Ints(1, 1, 1, 1)], ("mode", "reflect"))));
        Assert.Contains("constant mode only", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ExpandGradientIsReducedToTheInputShape()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [3, 1], dynamic: true);
        c.Check(c.B.Expand(x, c.B.Ints(2, 3, 4)));
    }

    [Fact]
    public void GatherScatterAddsRepeatedAndNegativeIndices()
    {
        using var c = new GradientCheck();
        var table = c.Input("table", [5, 3]);
        var ids = c.Int64Input("ids", [0, 4, 4, -1, 2, 0], 2, 3);
        c.Check(c.B.Gather(table, ids));
    }

    [Fact]
    public void TriluMasksTheGradient()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 3]);
        c.Check(c.B.Op("Trilu", [x], ("upper", 0L)));
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(1L)]
    public void SoftmaxMatchesFiniteDifferences(long axis)
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true);
        c.Check(c.B.Softmax(x, axis));
    }

    [Fact]
    public void LogSoftmaxMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [3, 5]);
        c.Check(c.B.LogSoftmax(x, 1));
    }

    [Theory]
    [InlineData("ReduceSum", true)]
    [InlineData("ReduceSum", false)]
    [InlineData("ReduceMean", true)]
    [InlineData("ReduceMean", false)]
    public void ReduceOverAxesMatchesFiniteDifferences(string op, bool keepDims)
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true);
        c.Check(c.B.Op(op, [x, c.B.Ints(0, -1)], ("keepdims", keepDims ? 1L : 0L)));
    }

    [Fact]
    public void ReduceMeanWithoutAxesAveragesEverything()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        c.Check(c.B.Op("ReduceMean", [x], ("keepdims", 0L)));
    }

    [Fact]
    public void RmsNormChainMatchesFiniteDifferences()
    {
        // y = x / sqrt(mean(x², -1) + eps) * w   (the lowered SimplifiedLayerNormalization)
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true);
        var w = c.Input("w", [4]);
        var ms = c.B.ReduceMean(c.B.Pow(x, c.B.Scalar(2f)), [-1], keepDims: true);
        var inv = c.B.Reciprocal(c.B.Sqrt(c.B.Add(ms, c.B.Scalar(1e-5f))));
        c.Check(c.B.Mul(c.B.Mul(x, inv), w));
    }
}
