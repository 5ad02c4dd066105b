// Debug messages of the gradient builder, as source-generated logger methods. They say where static
// shapes end (a runtime broadcast reduction, a node whose output shape stays unknown); enable them with
// a Debug-level ILogger in GradientOptions.Logger. Nothing here reads the environment.
using Microsoft.Extensions.Logging;

namespace OnnxLora.Autodiff;

internal static partial class AutodiffLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Shape unknown: {Node}: {Inputs}")]
    public static partial void ShapeUnknown(ILogger logger, string node, string inputs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Runtime broadcast reduction: {Gradient} ({GradientShape}) to {Value} ({ValueShape})")]
    public static partial void RuntimeReduce(ILogger logger, string gradient, string gradientShape, string value, string valueShape);
}
