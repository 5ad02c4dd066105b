// The job store suite on the embedded SQLite store, in a temp folder.
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class SqliteJobStoreTests : JobStoreTests, IDisposable
{
    private readonly TempDir _dir = new();

    protected override IJobStore CreateStore() => new SqliteJobStore(_dir["jobs.db"]);

    public void Dispose() => _dir.Dispose();
}
