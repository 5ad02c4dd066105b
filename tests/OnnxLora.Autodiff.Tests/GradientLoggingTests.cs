// Debug output of the builder goes to the ILogger in GradientOptions: where static shapes end
// (runtime broadcast reductions, nodes whose shape stays unknown). Nothing reads the environment.
using Microsoft.Extensions.Logging;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests;

public sealed class GradientLoggingTests
{
    [Fact]
    public void RuntimeBroadcastReductionsAreLoggedAtDebug()
    {
        // y = x (?,3) * s (?,1) with unrelated unknown dims: only run time can reduce ds
        var (model, loss) = Forward(new Dim(null, "rows"), new Dim(null, "other"));
        var logger = new ListLogger();
        GradientBuilder.AddGradients(model, loss, ["s"], new GradientOptions { Logger = logger });
        Assert.Contains(logger.Messages, m => m.Level == LogLevel.Debug && m.Text.StartsWith("Runtime broadcast reduction: ", StringComparison.Ordinal));
        Assert.Contains(model.Graph.Nodes, n => n.OpType == "NonZero");
    }

    [Fact]
    public void ProvedShapesLogNoRuntimeReduction()
    {
        var rows = new Dim(null, "rows");
        var (model, loss) = Forward(rows, rows);
        var logger = new ListLogger();
        GradientBuilder.AddGradients(model, loss, ["s"], new GradientOptions { Logger = logger });
        Assert.DoesNotContain(logger.Messages, m => m.Text.StartsWith("Runtime broadcast reduction", StringComparison.Ordinal));
        Assert.DoesNotContain(model.Graph.Nodes, n => n.OpType == "NonZero");
    }

    /// <summary>loss = ReduceSum(x (xRows,3) * s (sRows,1)).</summary>
    private static (Model Model, string Loss) Forward(Dim xRows, Dim sRows)
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, xRows, 3));
        g.Inputs.Add(Graph.MakeValueInfo("s", ElementType.Float, sRows, 1));
        var b = new GraphBuilder(g);
        var loss = b.Op("ReduceSum", [b.Mul("x", "s")], ("keepdims", 0L));
        return (new Model(g), loss);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Text)> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add((logLevel, formatter(state, exception)));
    }
}
