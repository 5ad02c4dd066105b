// Creates every ORT session of the product from one RuntimeOptions: full graph optimisation, sequential
// execution, the options' threads, arena, memory pattern, spinning, config entries and profiling, on CPU or CUDA;
// optionally over SharedWeights (frozen weights mapped once, prepacking off).
// CUDA needs the GPU build of ORT; asking for it without one is a clear error, not a silent fallback to CPU.
// It reads no environment variable and keeps no state of its own (it fixes the process's NativeHeap policy once);
// the caller owns (and releases) each session.
using Microsoft.ML.OnnxRuntime;

namespace OnnxLora.Onnx.Runtime;

public static class SessionFactory
{
    /// <summary>Receives the path of each profile written by <see cref="Release"/>; stderr by default.</summary>
    public static Action<string>? ProfileWritten { get; set; } = path => Console.Error.WriteLine($"profile: {path}");

    /// <summary>ORT's session config key that turns prepacking of constant weights off.</summary>
    public const string DisablePrepackingKey = "session.disable_prepacking";

    /// <summary>
    /// A session of the model file at <paramref name="modelPath"/> (external data beside it). With
    /// <paramref name="weights"/> its external-data initializers come from those shared, memory-mapped weights and
    /// prepacking is off (unless the runtime's session config sets <see cref="DisablePrepackingKey"/> itself):
    /// a prepacked copy of a shared weight would be a second copy of it.
    /// </summary>
    public static InferenceSession Create(string modelPath, RuntimeOptions runtime, SharedWeights? weights = null)
    {
        using var options = CreateOptions(runtime, Path.GetFileNameWithoutExtension(modelPath));
        if (weights is not null)
        {
            if (runtime.Device != Device.Cpu)
            {
                throw new ArgumentException($"{modelPath}: shared weights are host memory, for CPU sessions only");
            }
            weights.AddTo(options, modelPath);
            if (!runtime.SessionConfig.ContainsKey(DisablePrepackingKey))
            {
                options.AddSessionConfigEntry(DisablePrepackingKey, "1");
            }
        }
        return new InferenceSession(modelPath, options);
    }

    /// <summary>A session of a serialized model (small generated graphs); <paramref name="name"/> labels its profile.</summary>
    public static InferenceSession Create(byte[] model, RuntimeOptions runtime, string name)
    {
        using var options = CreateOptions(runtime, name);
        return new InferenceSession(model, options);
    }

    /// <summary>The SessionOptions <paramref name="runtime"/> stands for; the caller disposes them.</summary>
    public static SessionOptions CreateOptions(RuntimeOptions runtime, string name)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (runtime.Problem() is { } problem)
        {
            throw new BadInputException($"runtime.{problem.Key}: {problem.Message}");
        }
        // Every ORT session we create comes from here, so this is where the heap policy its arena needs is set.
        NativeHeap.FixMmapThreshold();
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = runtime.Threads,
            EnableCpuMemArena = runtime.CpuArena,
            EnableMemoryPattern = runtime.MemoryPattern,
        };
        try
        {
            foreach (var (key, value) in ConfigEntries(runtime))
            {
                options.AddSessionConfigEntry(key, value);
            }
            if (runtime.ProfilePrefix is { } prefix)
            {
                // The prefix must be set first: EnableProfiling passes the current prefix to ORT.
                options.ProfileOutputPathPrefix = $"{prefix}_{name}";
                options.EnableProfiling = true;
            }
            if (runtime.Device == Device.Cuda)
            {
                AppendCuda(options, runtime);
            }
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>ORT's session config key for intra-op spinning ("0" or "1").</summary>
    public const string AllowSpinningKey = "session.intra_op.allow_spinning";

    /// <summary>
    /// The session config entries <paramref name="runtime"/> stands for: its own entries, plus spinning turned off
    /// when <see cref="RuntimeOptions.Spinning"/> is false and the entries do not set it themselves.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ConfigEntries(RuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var entries = new Dictionary<string, string>(runtime.SessionConfig, StringComparer.Ordinal);
        if (!runtime.Spinning)
        {
            entries.TryAdd(AllowSpinningKey, "0");
        }
        return entries;
    }

    /// <summary>
    /// Adds the CUDA provider on device 0 with the options' TF32 and arena growth. Fails with one line saying
    /// what is missing: the provider itself (CPU build) or the CUDA libraries it loads.
    /// </summary>
    private static void AppendCuda(SessionOptions options, RuntimeOptions runtime)
    {
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = "0",
                ["use_tf32"] = runtime.Tf32 ? "1" : "0",
                ["arena_extend_strategy"] = runtime.CudaArena == CudaArenaStrategy.NextPowerOfTwo ? "kNextPowerOfTwo" : "kSameAsRequested",
            });
            options.AppendExecutionProvider_CUDA(cuda);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            // the CUDA build whose provider cannot load its CUDA libraries, or a CPU build without the provider
            throw new BadInputException(e.Message.Contains("Failed to load library", StringComparison.Ordinal)
                ? $"--device cuda: the CUDA provider could not load its libraries ({e.Message.Trim()}); put CUDA 13 and cuDNN 9 on LD_LIBRARY_PATH (e.g. /usr/local/cuda-13/lib64)"
                : $"--device cuda: this build of ONNX Runtime has no CUDA provider ({e.Message.Trim()}); build with -p:OnnxLoraCuda=true", e);
        }
    }

    /// <summary>Writes the session's profile when profiling is on (ORT writes it only on EndProfiling), then disposes it.</summary>
    public static void Release(InferenceSession? session, RuntimeOptions runtime)
    {
        if (session is null)
        {
            return;
        }
        if (runtime.ProfilePrefix is not null)
        {
            ProfileWritten?.Invoke(session.EndProfiling());
        }
        session.Dispose();
    }
}
