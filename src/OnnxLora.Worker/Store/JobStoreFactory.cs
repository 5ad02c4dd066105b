// Picks the store named by the options: SQLite in the data folder (default) or PostgreSQL.
using OnnxLora.Onnx;

namespace OnnxLora.Worker.Store;

public static class JobStoreFactory
{
    public const string SqliteFile = "jobs.db";

    public static IJobStore Create(WorkerOptions o) => o.Store.ToLowerInvariant() switch
    {
        "sqlite" => new SqliteJobStore(o.ConnectionString ?? Path.Combine(Path.GetFullPath(o.DataDir), SqliteFile)),
        "postgres" or "postgresql" => new PostgresJobStore(o.ConnectionString
            ?? throw new BadInputException("Worker:ConnectionString is required when Worker:Store is postgres")),
        _ => throw new BadInputException($"Worker:Store '{o.Store}' is unknown (expected sqlite or postgres)"),
    };
}
