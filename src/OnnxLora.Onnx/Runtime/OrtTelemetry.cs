// Turns off the usage telemetry of ONNX Runtime and ORT GenAI for this process. Both native libraries read
// ORT_DISABLE_TELEMETRY when their environment is first created (ORT 1.31 / GenAI 0.18 on Linux otherwise keep a
// device id and an event database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime). .NET's
// Environment.SetEnvironmentVariable does not reach native getenv on Unix, so the variable is set with setenv.
// Call it first thing in a process, before any ORT type is touched; an explicit value already set is kept.
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Runtime;

public static partial class OrtTelemetry
{
    public const string Variable = "ORT_DISABLE_TELEMETRY";

    public static void DisableForProcess()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 })
        {
            return;
        }
        Environment.SetEnvironmentVariable(Variable, "1");
        if (!OperatingSystem.IsWindows())
        {
            _ = SetEnv(Variable, "1", overwrite: 0);
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
