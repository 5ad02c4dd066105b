// Arithmetic of the structured symbolic dims shape inference uses: products are a factor times a
// sorted multiset of symbols, quotients are exact or nothing, and unknown dims never compare equal.
// B=batch, T=time
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class SymbolicDimTests
{
    private static readonly SymbolicDim s_b = SymbolicDim.Symbol("batch"), s_t = SymbolicDim.Symbol("time");

    [Fact]
    public void DividingAProductByOneOfItsSymbolsLeavesTheRest()
    {
        // (2·B·T) / B = 2·T, not 2·B
        var product = 2 * s_b * s_t;
        var quotient = product.DivideExactly(s_b);
        Assert.Equal(2 * s_t, quotient);
        Assert.NotEqual(2 * s_b, quotient);
        Assert.False(SymbolicDim.ProvablyEqual(quotient!.Value, 2 * s_b));
        Assert.Equal("2*time", quotient.ToString());
    }

    [Fact]
    public void ProductsAreEqualWhateverTheOrderOfTheirFactors()
    {
        var bt = s_b * s_t * 6;
        var tb = s_t * 3 * (2 * s_b);
        Assert.Equal(bt, tb);
        Assert.True(SymbolicDim.ProvablyEqual(bt, tb));
        Assert.Equal(bt.GetHashCode(), tb.GetHashCode());
        Assert.Equal("6*batch*time", bt.ToString());
        Assert.Null(bt.Value);
    }

    [Fact]
    public void RepeatedSymbolsCountAsAMultiset()
    {
        var bbt = s_b * s_b * s_t;
        Assert.Equal(s_b * s_t, bbt.DivideExactly(s_b));
        Assert.Equal(s_t, bbt.DivideExactly(s_b * s_b));
        Assert.Null((s_b * s_t).DivideExactly(s_b * s_b));
        Assert.NotEqual(s_b * s_t, bbt);
    }

    [Fact]
    public void InexactQuotientsGiveNull()
    {
        Assert.Null((2 * s_b).DivideExactly(s_t));        // T does not divide 2·B
        Assert.Null((3 * s_b).DivideExactly(2));          // 2 does not divide 3
        Assert.Null(s_b.DivideExactly(0));
        Assert.Null(SymbolicDim.Unknown.DivideExactly(1));
        Assert.Null(s_b.DivideExactly(SymbolicDim.Unknown));
        Assert.Equal((SymbolicDim)4, ((SymbolicDim)12).DivideExactly(3));
    }

    [Fact]
    public void NumbersMultiplyToNumbersAndZeroAbsorbsSymbols()
    {
        Assert.Equal(24, (((SymbolicDim)4) * 6).Value);
        Assert.Equal(0, (s_b * 0).Value);
        Assert.Equal(s_b, (s_b * 3).DivideExactly(3));
        Assert.True((s_b * 3).DivideExactly(3)!.Value.Symbols is ["batch"]);
    }

    [Fact]
    public void UnknownDimsAreNeverProvablyEqualNotEvenToThemselves()
    {
        var unknown = SymbolicDim.Unknown;
        Assert.False(SymbolicDim.ProvablyEqual(unknown, unknown));
        Assert.False(unknown.IsKnown);
        Assert.False((unknown * s_b).IsKnown);
        Assert.True(SymbolicDim.ProvablyEqual(s_b, SymbolicDim.Symbol("batch")));
        Assert.True(SymbolicDim.ProvablyEqual(4, 4));
        Assert.False(SymbolicDim.ProvablyEqual(s_b, s_t));
        Assert.False(SymbolicDim.ProvablyEqual(s_b, 1));
        Assert.Equal("?", unknown.ToString());
    }

    [Fact]
    public void DeclaredDimsBecomeNumbersSymbolsOrProducts()
    {
        Assert.Equal((SymbolicDim)7, SymbolicDim.From(7));
        Assert.Equal(s_b, SymbolicDim.From("batch"));
        Assert.Equal(2 * s_b * s_t, SymbolicDim.From("time*2*batch"));
        Assert.False(SymbolicDim.From(Dim.Unknown).IsKnown);
    }

    [Fact]
    public void ResolvingAgainstBindingsMultipliesTheirValues()
    {
        var bindings = new Dictionary<string, long> { ["batch_size"] = 8, ["sequence_length"] = 1024 };
        var dim = 4 * SymbolicDim.Symbol("batch_size") * SymbolicDim.Symbol("sequence_length");
        Assert.Equal(4L * 8 * 1024, dim.Resolve(bindings));
        Assert.Equal(16L, ((SymbolicDim)16).Resolve(bindings));
        Assert.Null((dim * SymbolicDim.Symbol("heads")).Resolve(bindings));
        Assert.Null(SymbolicDim.Unknown.Resolve(bindings));
    }
}
