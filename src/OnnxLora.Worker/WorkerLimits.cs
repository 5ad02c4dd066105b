// Server-wide caps on what one job may ask for, bound from "Worker:Limits" (e.g. --Worker:Limits:MaxRank=64).
// A submission over any of them gets a 400 naming the limit and its value; a tenant at its quota of queued +
// running jobs gets a 429. Defaults fit one large GPU; 0 turns a cap off. It checks nothing itself.
namespace OnnxLora.Worker;

public sealed class WorkerLimits
{
    public const string Section = "Worker:Limits";

    /// <summary>Largest LoRA rank (lora.r).</summary>
    public int MaxRank { get; set; } = 256;

    /// <summary>Largest batch_size × grad_accum × max_seq_len, the tokens one optimizer step reads.</summary>
    public long MaxTokensPerStep { get; set; } = 1 << 20;

    /// <summary>Largest max_steps.</summary>
    public int MaxSteps { get; set; } = 1_000_000;

    /// <summary>Largest epochs.</summary>
    public int MaxEpochs { get; set; } = 100;

    /// <summary>Largest dataset file, in bytes.</summary>
    public long MaxDatasetBytes { get; set; } = 10L << 30;

    /// <summary>Queued + running jobs one tenant may have at once.</summary>
    public int MaxActiveJobsPerTenant { get; set; } = 100;

    /// <summary>The configuration key of a limit, as an error names it ("Worker:Limits:MaxRank").</summary>
    public static string Key(string property) => $"{Section}:{property}";
}
