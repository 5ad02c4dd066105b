// Finite-difference checks of the elementwise rules, including broadcast operands reduced by
// the central helper both from declared (static) and symbolic (runtime) shapes.
namespace OnnxLora.Autodiff.Tests;

public sealed class ElementwiseGradientTests
{
    [Theory]
    [InlineData("Add", false)]
    [InlineData("Add", true)]
    [InlineData("Sub", false)]
    [InlineData("Sub", true)]
    [InlineData("Mul", false)]
    [InlineData("Mul", true)]
    [InlineData("Div", false)]
    [InlineData("Div", true)]
    [InlineData("Max", true)]
    [InlineData("Min", false)]
    public void BinaryOpWithTrailingBroadcastMatchesFiniteDifferences(string op, bool dynamic)
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3, 4], dynamic);
        var b = c.Input("b", [4], dynamic, lo: 0.5f, hi: 1.5f);
        c.Check(c.B.Op(op, a, b));
    }

    [Theory]
    [InlineData("Add", false)]
    [InlineData("Mul", false)]
    [InlineData("Mul", true)]
    [InlineData("Div", true)]
    public void BinaryOpWithBothOperandsBroadcastMatchesFiniteDifferences(string op, bool dynamic)
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 1, 4], dynamic);
        var b = c.Input("b", [3, 1], dynamic, lo: 0.5f, hi: 1.5f);
        c.Check(c.B.Op(op, a, b));
    }

    [Fact]
    public void ScalarOperandGradientIsSummedOverEverything()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3]);
        var s = c.Input("s", []);
        c.Check(c.B.Mul(a, s));
    }

    [Fact]
    public void PowGradientReachesBaseAndExponent()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3], lo: 0.5f, hi: 1.5f);
        var e = c.Input("e", [3], lo: 1f, hi: 3f);
        c.Check(c.B.Pow(a, e));
    }

    [Fact]
    public void PowWithConstantExponentDifferentiatesBase()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3]);
        c.Check(c.B.Pow(a, c.B.Scalar(3f)));
    }

    [Theory]
    [InlineData("Neg")]
    [InlineData("Sqrt")]
    [InlineData("Reciprocal")]
    [InlineData("Exp")]
    [InlineData("Log")]
    [InlineData("Sigmoid")]
    [InlineData("Tanh")]
    [InlineData("Erf")]
    [InlineData("Identity")]
    public void UnaryOpMatchesFiniteDifferences(string op)
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3], lo: 0.5f, hi: 1.5f);
        c.Check(c.B.Op(op, x));
    }

    [Fact]
    public void SigmoidOfNegativeInputsMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [3, 4], lo: -2f, hi: 2f);
        c.Check(c.B.Mul(x, c.B.Sigmoid(x)));
    }

    [Fact]
    public void VariadicSumBroadcastsEveryInput()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3]);
        var b = c.Input("b", [3]);
        var d = c.Input("d", [2, 1], dynamic: true);
        c.Check(c.B.Op("Sum", a, b, d));
    }

    [Fact]
    public void WhereSendsGradientToTheChosenBranchOnly()
    {
        using var c = new GradientCheck();
        var cond = c.BoolInput("cond", [true, false, false, true, true, false], 2, 3);
        var a = c.Input("a", [2, 3]);
        var b = c.Input("b", [3], dynamic: true);
        c.Check(c.B.Where(cond, c.B.Exp(a), b));
    }

    [Fact]
    public void CastRoundTripThroughDoubleMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        var d = c.B.Cast(x, Onnx.Ir.ElementType.Double);
        c.Check(c.B.Cast(c.B.Mul(d, d), Onnx.Ir.ElementType.Float));
    }
}
