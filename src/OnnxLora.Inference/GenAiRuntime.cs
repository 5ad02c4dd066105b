// Makes ORT GenAI find the ONNX Runtime library we ship: GenAI dlopens libonnxruntime via ORT_LIB_PATH,
// an already loaded copy, or the loader's search path. We set ORT_LIB_PATH to the copy beside the app
// (dotnet run / test both copy it) and load ORT through its managed API first. Call before any GenAI type.
// Reading ORT_LIB_PATH here is a loader detail, not a runtime setting: it only keeps a user's own path to the
// native library, and changes no result; RuntimeOptions carries every setting that does.
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace OnnxLora.Inference;

public static class GenAiRuntime
{
    public const string LibPathVariable = "ORT_LIB_PATH";

    private static readonly Lock s_lock = new();
    private static bool s_ready;

    public static void EnsureLoaded()
    {
        lock (s_lock)
        {
            if (s_ready)
            {
                return;
            }
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(LibPathVariable)) && FindOrtLibrary() is { } lib)
            {
                Environment.SetEnvironmentVariable(LibPathVariable, lib);
            }
            _ = OrtEnv.Instance(); // loads libonnxruntime into the process
            s_ready = true;
        }
    }

    /// <summary>The libonnxruntime shipped beside the app (flat, or under runtimes/&lt;rid&gt;/native), or null.</summary>
    public static string? FindOrtLibrary()
    {
        var name = OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";
        var baseDir = AppContext.BaseDirectory;
        var rid = $"{(OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux")}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        foreach (var candidate in new[] { Path.Combine(baseDir, name), Path.Combine(baseDir, "runtimes", rid, "native", name) })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
