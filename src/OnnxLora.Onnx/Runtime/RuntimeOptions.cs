// How ONNX Runtime sessions run: device, TF32, arenas, intra-op threads, memory pattern, profiling and extra
// session config entries. One typed value, bound from the train config's `runtime:` group and from worker
// job specs, recorded in the run folder's config.json, and turned into SessionOptions by SessionFactory only.
// It does not read the environment (the CLI maps ONNXLORA_* variables to defaults) and chooses no graph dtype.
namespace OnnxLora.Onnx.Runtime;

/// <remarks>
/// Precision policy: the compute dtype (fp32/fp16/bf16) belongs to the model (`import --dtype`), and dynamic
/// loss scaling follows from it as a graph input (TrainingGraphOptions.LossScaling), so neither is a runtime
/// setting. The one runtime choice that changes results is <see cref="Tf32"/>.
/// </remarks>
public sealed record RuntimeOptions
{
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>
    /// Let the CUDA provider run fp32 MatMul/Conv in TF32. Off by default: on the H200 TF32 moved the fixture
    /// trajectory by 7.1e-3 against 1.4e-6 in true fp32 (torch also defaults matmul TF32 off). No effect on CPU
    /// or on fp16/bf16 graphs.
    /// </summary>
    public bool Tf32 { get; init; }

    /// <summary>ORT's CPU memory arena (on by default, as in ORT).</summary>
    public bool CpuArena { get; init; } = true;

    public CudaArenaStrategy CudaArena { get; init; } = CudaArenaStrategy.SameAsRequested;

    /// <summary>Intra-op threads per session; 0 lets ORT choose (one per physical core).</summary>
    public int Threads { get; init; }

    /// <summary>
    /// ORT memory patterns: plan every intermediate of a run into one block. Off by default: for a training graph
    /// (activations kept for backward) that block measured 4.6 GB peak RSS on bench-58m LoRA against 2.8 GB with
    /// plain arena reuse, at the same speed.
    /// </summary>
    public bool MemoryPattern { get; init; }

    /// <summary>
    /// Let ORT's intra-op worker threads spin between parallel sections (ORT's default). Off by default: a
    /// training step runs several sessions back to back (forward/backward, gradient norm, optimizer) and the
    /// last session's spinning workers take cores from the next one; on 2 cores the quickstart ran at 6.7k
    /// tokens/s with spinning against 11.5k without. A `session.intra_op.allow_spinning` entry in
    /// <see cref="SessionConfig"/> wins over this setting. Applies to the sessions SessionFactory makes; GenAI's
    /// one decode session keeps ORT's default unless the session config sets the entry.
    /// </summary>
    public bool Spinning { get; init; }

    /// <summary>When set, each session writes ORT's per-op JSON profile to prefix_&lt;model&gt;_&lt;time&gt;.json on release.</summary>
    public string? ProfilePrefix { get; init; }

    /// <summary>Extra ORT session config entries (SessionOptions.AddSessionConfigEntry), e.g. session.intra_op.allow_spinning=0.</summary>
    public IReadOnlyDictionary<string, string> SessionConfig { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The first setting out of range as (key, message), keys as in the config's runtime group; null when valid.</summary>
    public (string Key, string Message)? Problem()
    {
        if (Threads < 0)
        {
            return ("threads", $"threads must be >= 0 (0: ORT's default), got {Threads}");
        }
        if (ProfilePrefix is { Length: 0 })
        {
            return ("profile_prefix", "profile_prefix must not be empty (leave it out to disable profiling)");
        }
        if (SessionConfig.Keys.FirstOrDefault(k => string.IsNullOrWhiteSpace(k)) is not null)
        {
            return ("session_config", "session_config has an empty key");
        }
        return null;
    }
}
