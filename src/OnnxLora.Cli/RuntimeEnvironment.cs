// The CLI edge's only reader of settings from the environment: the ONNXLORA_* variables below become the
// defaults of RuntimeOptions, which config files, --set and flags then override; the effective values are
// what the run folder's config.json records. A malformed value fails in one line naming the variable.
// `serve` does not use it: a worker job's runtime comes from its spec and the server's Worker:Runtime defaults.
using System.Globalization;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli;

public static class RuntimeEnvironment
{
    /// <summary>Each variable, the runtime key it sets a default for, and the values it takes (README table).</summary>
    public static readonly IReadOnlyList<(string Variable, string Key, string Values)> Variables =
    [
        ("ONNXLORA_THREADS", "runtime.threads", "n ≥ 0 (0: ORT's default)"),
        ("ONNXLORA_ARENA", "runtime.cpu_arena", "0 | 1"),
        ("ONNXLORA_MEMPATTERN", "runtime.memory_pattern", "0 | 1"),
        ("ONNXLORA_SPINNING", "runtime.spinning", "0 | 1"),
        ("ONNXLORA_SESSION_CONFIG", "runtime.session_config", "key=value;key=value"),
        ("ONNXLORA_PROFILE", "runtime.profile_prefix", "a path prefix"),
        ("ONNXLORA_TF32", "runtime.tf32", "0 | 1"),
        ("ONNXLORA_CUDA_ARENA", "runtime.cuda_arena", "pow2 | same_as_requested | next_power_of_two"),
    ];

    /// <summary>The defaults this process's environment gives.</summary>
    public static RuntimeOptions Defaults() => Defaults(Environment.GetEnvironmentVariable);

    /// <summary>The defaults <paramref name="get"/> (variable → value or null) gives; unset or empty variables keep the built-in default.</summary>
    public static RuntimeOptions Defaults(Func<string, string?> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        var o = new RuntimeOptions();
        if (Value(get, "ONNXLORA_THREADS") is { } threads)
        {
            o = o with
            {
                Threads = int.TryParse(threads, NumberStyles.None, CultureInfo.InvariantCulture, out int n)
                    ? n
                    : throw Bad("ONNXLORA_THREADS", threads, "a whole number ≥ 0"),
            };
        }
        if (Value(get, "ONNXLORA_ARENA") is { } arena)
        {
            o = o with { CpuArena = Flag("ONNXLORA_ARENA", arena) };
        }
        if (Value(get, "ONNXLORA_MEMPATTERN") is { } pattern)
        {
            o = o with { MemoryPattern = Flag("ONNXLORA_MEMPATTERN", pattern) };
        }
        if (Value(get, "ONNXLORA_SPINNING") is { } spinning)
        {
            o = o with { Spinning = Flag("ONNXLORA_SPINNING", spinning) };
        }
        if (Value(get, "ONNXLORA_SESSION_CONFIG") is { } entries)
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in entries.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = entry.Split('=', 2);
                if (kv.Length != 2 || kv[0].Trim().Length == 0)
                {
                    throw Bad("ONNXLORA_SESSION_CONFIG", entries, "key=value;key=value");
                }
                d[kv[0].Trim()] = kv[1].Trim();
            }
            o = o with { SessionConfig = d };
        }
        if (Value(get, "ONNXLORA_PROFILE") is { } prefix)
        {
            o = o with { ProfilePrefix = prefix };
        }
        if (Value(get, "ONNXLORA_TF32") is { } tf32)
        {
            o = o with { Tf32 = Flag("ONNXLORA_TF32", tf32) };
        }
        if (Value(get, "ONNXLORA_CUDA_ARENA") is { } cudaArena)
        {
            o = o with
            {
                CudaArena = cudaArena == "pow2" ? CudaArenaStrategy.NextPowerOfTwo
                    : RuntimeNames.TryParse<CudaArenaStrategy>(cudaArena, out var s) ? s
                    : throw Bad("ONNXLORA_CUDA_ARENA", cudaArena, "pow2, " + string.Join(", ", RuntimeNames.All<CudaArenaStrategy>())),
            };
        }
        return o;
    }

    private static string? Value(Func<string, string?> get, string name) => get(name) is { Length: > 0 } v ? v : null;

    private static bool Flag(string name, string value) => value switch
    {
        "1" => true,
        "0" => false,
        _ => throw Bad(name, value, "0 or 1"),
    };

    private static BadInputException Bad(string name, string value, string expected) =>
        new($"environment variable {name}='{value}' is not valid (expected {expected})");
}
