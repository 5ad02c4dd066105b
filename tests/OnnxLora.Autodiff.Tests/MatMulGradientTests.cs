// Finite-difference checks of MatMul: plain, batched, broadcast batch dims, 1-D operands,
// and the LoRA product x·Aᵀ·Bᵀ with a frozen base weight.
namespace OnnxLora.Autodiff.Tests;

public sealed class MatMulGradientTests
{
    [Theory]
    [InlineData(new long[] { 3, 4 }, new long[] { 4, 5 }, false)]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 4, 5 }, false)]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 4, 5 }, true)]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 }, false)]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 2, 4, 5 }, true)]
    [InlineData(new long[] { 2, 1, 3, 4 }, new long[] { 3, 4, 5 }, true)]
    [InlineData(new long[] { 3, 4 }, new long[] { 2, 4, 5 }, false)]
    [InlineData(new long[] { 4 }, new long[] { 4, 5 }, false)]
    [InlineData(new long[] { 2, 3, 4 }, new long[] { 4 }, false)]
    [InlineData(new long[] { 4 }, new long[] { 2, 4, 5 }, false)]
    [InlineData(new long[] { 4 }, new long[] { 4 }, false)]
    public void MatMulMatchesFiniteDifferences(long[] aShape, long[] bShape, bool dynamic)
    {
        using var c = new GradientCheck();
        var a = c.Input("a", aShape, dynamic);
        var b = c.Input("b", bShape, dynamic);
        c.Check(c.B.MatMul(a, b));
    }

    [Fact]
    public void LoraProductWithFrozenBaseMatchesFiniteDifferences()
    {
        // B=2, T=3, in=4, out=5, r=2;  y = x W + (x Aᵀ) Bᵀ · scaling
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4], dynamic: true, wrt: false);
        var w = c.Weight("w", 4, 5);
        var a = c.Input("lora_A", [2, 4]);
        var b = c.Input("lora_B", [5, 2]);
        var delta = c.B.MatMul(c.B.MatMul(x, c.B.Transpose(a, 1, 0)), c.B.Transpose(b, 1, 0));
        c.Check(c.B.Add(c.B.MatMul(x, w), c.B.Mul(delta, c.B.Scalar(0.5f))));
    }
}
