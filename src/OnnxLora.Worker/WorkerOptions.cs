// Settings of the worker service, bound from the "Worker" configuration section (appsettings, environment
// Worker__X, command line --Worker:X=...). Defaults are the embedded single-machine setup: SQLite in DataDir,
// loopback only, one job at a time. It holds no secrets in clear: API keys are given as SHA-256 hashes.
using OnnxLora.Training.Config;

namespace OnnxLora.Worker;

public sealed class WorkerOptions
{
    public const string Section = "Worker";
    public const string DefaultUrls = "http://127.0.0.1:8080";
    public const long DefaultMaxBodyBytes = 1 << 20;

    /// <summary>Kestrel listen addresses; loopback unless an operator says otherwise.</summary>
    public string Urls { get; set; } = DefaultUrls;

    /// <summary>Job folders (runs, artifacts) and, for SQLite, the database. Shared storage when workers are many.</summary>
    public string DataDir { get; set; } = "onnxlora-data";

    /// <summary>sqlite | postgres.</summary>
    public string Store { get; set; } = "sqlite";

    /// <summary>Npgsql connection string when <see cref="Store"/> is postgres; SQLite file path override otherwise.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Jobs this process runs at once (one per device).</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>A claim lasts this long without a heartbeat; then another worker may take the job.</summary>
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>Heartbeat period; defaults to a third of the lease.</summary>
    public double? HeartbeatSeconds { get; set; }

    /// <summary>How often an idle worker looks for a job.</summary>
    public double PollSeconds { get; set; } = 0.5;

    /// <summary>Runs of one job that may end without progress (lost leases, transient errors) before it is failed.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Leases of one job that may expire after it advanced (its worker was killed mid-run) before it is failed.</summary>
    public int MaxCrashResumes { get; set; } = 100;

    /// <summary>Server-wide caps on a job's size and each tenant's active jobs.</summary>
    public WorkerLimits Limits { get; set; } = new();

    /// <summary>Checkpoint period in optimizer steps when a job's config does not set save_every.</summary>
    public int CheckpointEvery { get; set; } = 10;

    /// <summary>Request bodies above this size get 413.</summary>
    public long MaxBodyBytes { get; set; } = DefaultMaxBodyBytes;

    /// <summary>Folders a job spec's model may be in; default DataDir/models.</summary>
    public List<string> ModelRoots { get; set; } = [];

    /// <summary>Folders a job spec's dataset may be in; default DataDir/datasets.</summary>
    public List<string> DatasetRoots { get; set; } = [];

    /// <summary>Bearer keys (as SHA-256 hex) and the tenant each one stands for.</summary>
    public List<ApiKeyEntry> ApiKeys { get; set; } = [];

    /// <summary>
    /// Server defaults of a job's `runtime` group, keyed as in the train config (Worker:Runtime:tf32=true,
    /// Worker:Runtime:device=cuda). They are applied when a job is submitted and stored in its spec, under
    /// whatever the job's own config.runtime says, so the worker that later runs it cannot change its numbers.
    /// </summary>
    public Dictionary<string, string> Runtime { get; set; } = [];

    /// <summary>Name of this worker in claims and logs; default host-pid-random.</summary>
    public string? WorkerId { get; set; }

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    /// <summary>A default TrainConfig carrying <see cref="Runtime"/>; a bad key or value throws a ConfigException naming Worker:Runtime:key.</summary>
    public TrainConfig RuntimeDefaults()
    {
        try
        {
            return TrainConfigLoader.ApplyOverrides(new TrainConfig(), Runtime.Select(kv => KeyValuePair.Create("runtime." + kv.Key.ToLowerInvariant(), kv.Value)));
        }
        catch (ConfigException e)
        {
            throw new ConfigException(e.Key, $"{Section}:{nameof(Runtime)}: {e.Message}");
        }
    }

    public TimeSpan Heartbeat => TimeSpan.FromSeconds(HeartbeatSeconds ?? LeaseSeconds / 3);

    public string JobsDir => Path.Combine(Path.GetFullPath(DataDir), "jobs");

    public IReadOnlyList<string> EffectiveModelRoots =>
        ModelRoots.Count > 0 ? ModelRoots : [Path.Combine(Path.GetFullPath(DataDir), "models")];

    public IReadOnlyList<string> EffectiveDatasetRoots =>
        DatasetRoots.Count > 0 ? DatasetRoots : [Path.Combine(Path.GetFullPath(DataDir), "datasets")];
}
