// Turns the library's bad-input exceptions into one clear line and an exit code.
// Anything else is a bug and keeps its stack trace.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite;
using OnnxLora.Training.Config;
using OnnxLora.Training.Run;

namespace OnnxLora.Cli.Commands;

internal static class CliErrors
{
    public const int BadInput = 1;
    public const int CheckFailed = 3;
    public const int Interrupted = 130;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
    }

    public static bool IsUserError(Exception e) => e is ModelFormatException or SafetensorsFormatException or RewriteException
        or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException
        or NotSupportedException or OnnxRuntimeException or Microsoft.ML.OnnxRuntimeGenAI.OnnxRuntimeGenAIException
        or IOException or UnauthorizedAccessException or ConfigException or NonFiniteLossException or InvalidOperationException
        or Models.Chat.Jinja.JinjaException;
}
