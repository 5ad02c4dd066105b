// Gradient of Dropout through its mask output. When the forward node has no mask output it is
// given one (a forward rewrite: the mask is what was dropped, so it must be kept).
// Without training_mode Dropout is the identity and so is its gradient.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal static class DropoutGradient
{
    // Y, mask = Dropout(X, ratio, training_mode);  dX = training ? GY * mask / (1 - ratio) : GY
    public static string OfData(GradientContext g)
    {
        var training = g.I(2);
        if (training.Length == 0 || IsConstantFalse(g.B.Graph, training))
        {
            return g.GY;
        }
        var node = g.Node;
        while (node.Outputs.Count < 2)
        {
            node.Outputs.Add("");
        }
        if (node.Outputs[1].Length == 0)
        {
            node.Outputs[1] = g.B.Graph.UniqueName(node.Outputs[0] + "_mask");
        }
        var keep = g.Sub(g.One, g.I(1).Length > 0 ? g.B.Op("CastLike", g.I(1), g.GY) : g.Scalar(0.5f));
        var scaled = g.Div(g.Mul(g.GY, g.B.Op("CastLike", node.Outputs[1], g.GY)), keep);
        return IsConstantTrue(g.B.Graph, training) ? scaled : g.B.Where(training, scaled, g.GY);
    }

    private static bool IsConstantFalse(Graph graph, string value) =>
        graph.Initializers.TryGetValue(value, out var init) && init.Type == ElementType.Bool && init.Data.Span[0] == 0;

    private static bool IsConstantTrue(Graph graph, string value) =>
        graph.Initializers.TryGetValue(value, out var init) && init.Type == ElementType.Bool && init.Data.Span[0] != 0;
}
