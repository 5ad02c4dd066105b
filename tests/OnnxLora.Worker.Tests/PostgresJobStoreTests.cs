// The job store suite on PostgreSQL (a private schema per class; fails under CI without a server).
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class PostgresJobStoreTests : JobStoreTests, IDisposable
{
    private readonly PgTestDatabase _db = new();

    protected override IJobStore? CreateStore() => _db.ConnectionString is { } cs ? new PostgresJobStore(cs) : null;

    public void Dispose() => _db.Dispose();
}
