// The job store suite on PostgreSQL (a private schema per class; skipped without a server, failed under CI).
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class PostgresJobStoreTests : JobStoreTests, IDisposable
{
    private readonly PgTestDatabase _db = new();

    protected override IJobStore? CreateStore() => _db.ConnectionString is { } cs ? new PostgresJobStore(cs) : null;

    protected override string SkipReason => _db.SkipReason;

    public void Dispose() => _db.Dispose();
}
