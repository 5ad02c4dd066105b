// Turns the library's bad-input exceptions into one clear line and an exit code.
// Anything else is a bug and keeps its stack trace.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx;

namespace OnnxLora.Cli.Commands;

internal static class CliErrors
{
    public const int BadInput = 1;
    public const int CheckFailed = 3;
    public const int Interrupted = 130;

    public static int Run(Func<int> action) => Run(action, Console.Error);

    internal static int Run(Func<int> action, TextWriter error)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
    }

    // Project errors are the user's input by definition; I/O and data-format exceptions are a missing, unreadable
    // or malformed file (the BCL's own meaning); ONNX Runtime and GenAI report a model they cannot load or run.
    // ArgumentException, InvalidOperationException and NotSupportedException are bugs: they keep their stack trace.
    public static bool IsUserError(Exception e) => e is OnnxLoraException or IOException or UnauthorizedAccessException
        or InvalidDataException or OnnxRuntimeException or Microsoft.ML.OnnxRuntimeGenAI.OnnxRuntimeGenAIException;
}
