// Behaviour of the builder itself: naming, required-only emission, summed contributions,
// loud failures for ops without rules, and what happens to nodes off the loss path.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class GradientBuilderTests
{
    [Fact]
    public void ThrowsForOpWithoutGradientRule()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        var y = c.B.Op("Cos", x);
        var node = c.Graph.Nodes.Single(n => n.OpType == "Cos");
        var error = Assert.Throws<BadInputException>(() => c.Differentiate(y));
        Assert.Equal($"no gradient rule for op 'Cos' (node '{node.Name}')", error.Message);
    }

    [Fact]
    public void OnlyRequiredGradientsAreEmitted()
    {
        // h = x @ W with W frozen: only dX = GY @ Wᵀ, nothing reads x to build dW = xᵀ @ GY
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3, 4]);
        var w = c.Weight("w", 4, 5);
        c.Check(c.B.MatMul(x, w));
        var backward = c.Graph.Nodes.Where(n => n.Name.StartsWith("/grad/", StringComparison.Ordinal)).ToList();
        Assert.Single(backward, n => n.OpType == "MatMul");
        Assert.DoesNotContain(backward, n => n.Inputs.Contains(x));
        Assert.DoesNotContain(c.Graph.Outputs, o => o.Name == "w_grad");
    }

    [Fact]
    public void MultipleContributionsAreSummed()
    {
        // y = x * x + exp(x): three uses of x
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        c.Check(c.B.Add(c.B.Mul(x, x), c.B.Exp(x)));
        Assert.Contains(c.Graph.Nodes, n => n.Name.StartsWith("/grad/", StringComparison.Ordinal) && n.OpType is "Add" or "Sum");
    }

    [Fact]
    public void GradientsAreNamedAfterTheirValueAndDeclaredAsOutputs()
    {
        using var c = new GradientCheck();
        var a = c.Input("a", [2, 3]);
        var b = c.Input("b", [3]);
        c.Differentiate(c.B.Mul(a, b));
        Assert.Equal("a_grad", c.Gradients["a"]);
        Assert.Equal("b_grad", c.Gradients["b"]);
        Assert.Contains(c.Graph.Nodes, n => n.Outputs.Contains("a_grad"));
        Assert.Equal([Dim.Unknown with { Value = 3 }], Graph.TypeOf(c.Graph.Outputs.Single(o => o.Name == "b_grad")).Shape);
    }

    [Fact]
    public void NodesOffTheLossPathGetNoBackward()
    {
        // an op without a rule that does not lead to the loss must not fail or be visited
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        c.B.Op("Cos", x);
        var shape = c.B.Shape(x);
        c.Check(c.B.Reshape(c.B.Exp(x), shape));
        Assert.DoesNotContain(c.Graph.Nodes, n => n.Name.StartsWith("/grad/", StringComparison.Ordinal) && n.OpType == "Sin");
    }

    [Fact]
    public void SliceWithNonUnitStepIsRejectedClearly()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [6]);
        var y = c.B.Slice(x, [0], [6], [0], [2]);
        var error = Assert.Throws<BadInputException>(() => c.Differentiate(y));
        Assert.Contains("unit steps", error.Message);
    }

    [Fact]
    public void ThrowsWhenTheLossDoesNotDependOnAWrtValue()
    {
        using var c = new GradientCheck();
        c.Input("unused", [2]);
        var x = c.Input("x", [2]);
        var error = Assert.Throws<InvalidOperationException>(() => c.Differentiate(c.B.Exp(x)));
        Assert.Contains("'unused'", error.Message);
    }
}
