// Finite-difference checks of SoftmaxCrossEntropyLoss (reductions, ignored labels, extra dims)
// and of Dropout's deterministic cases. N=batch, C=classes, d=extra dim.
namespace OnnxLora.Autodiff.Tests;

public sealed class LossGradientTests
{
    [Theory]
    [InlineData("mean")]
    [InlineData("sum")]
    [InlineData("none")]
    public void CrossEntropyWithIgnoredLabelsMatchesFiniteDifferences(string reduction)
    {
        using var c = new GradientCheck();
        var scores = c.Input("scores", [4, 5], lo: -2f, hi: 2f);      // (N,C)
        var labels = c.Int64Input("labels", [1, -100, 4, 0], 4);      // (N)
        c.Check(c.B.Op("SoftmaxCrossEntropyLoss", [scores, labels], ("reduction", reduction), ("ignore_index", -100L)));
    }

    [Fact]
    public void CrossEntropyOverExtraDimsMatchesFiniteDifferences()
    {
        using var c = new GradientCheck();
        var scores = c.Input("scores", [2, 4, 3], dynamic: true, lo: -2f, hi: 2f);  // (N,C,d)
        var labels = c.Int64Input("labels", [3, -100, 0, -100, 1, 2], 2, 3);       // (N,d)
        c.Check(c.B.Op("SoftmaxCrossEntropyLoss", [scores, labels], ("ignore_index", -100L)));
    }

    [Fact]
    public void CrossEntropyWithoutIgnoreIndexAveragesOverAllLabels()
    {
        using var c = new GradientCheck();
        var scores = c.Input("scores", [3, 4]);
        var labels = c.Int64Input("labels", [3, 0, 1], 3);
        c.Check(c.B.Op("SoftmaxCrossEntropyLoss", scores, labels));
    }

    [Fact]
    public void CrossEntropyLogProbOutputIsDifferentiated()
    {
        using var c = new GradientCheck();
        var scores = c.Input("scores", [3, 4]);
        var labels = c.Int64Input("labels", [3, 0, 1], 3);
        var outs = c.B.Node("SoftmaxCrossEntropyLoss", [scores, labels], 2);
        c.Check(outs[0], outs[1]);
    }

    [Fact]
    public void DropoutInInferenceModePassesGradientThrough()
    {
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        c.Check(c.B.Exp(c.B.Op("Dropout", x)));
    }

    [Fact]
    public void DropoutInTrainingModeGainsAMaskOutputAndScalesByIt()
    {
        // ratio 0 keeps every element, so finite differences stay deterministic
        using var c = new GradientCheck();
        var x = c.Input("x", [2, 3]);
        var ratio = c.B.Scalar(0f);
        var training = c.B.AddInitializer(new Onnx.Ir.Initializer("training", Onnx.Ir.ElementType.Bool, [], Onnx.Ir.TensorData.FromBytes([1])));
        c.Check(c.B.Exp(c.B.Op("Dropout", x, ratio, training)));
        Assert.Contains(c.Graph.Nodes, n => n.OpType == "Dropout" && n.Outputs.Count == 2 && n.Outputs[1].Length > 0);
    }
}
