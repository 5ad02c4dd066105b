// The job store suite on the embedded SQLite store, in a temp folder; plus the upgrade of a job table
// written by the first release (no crash-resume columns) in place.
using Microsoft.Data.Sqlite;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class SqliteJobStoreTests : JobStoreTests, IDisposable
{
    private readonly TempDir _dir = new();

    protected override IJobStore CreateStore() => new SqliteJobStore(_dir["jobs.db"]);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task InitializeAddsTheNewColumnsToAnOlderJobTable()
    {
        var path = _dir["old.db"];
        await using (var conn = new SqliteConnection($"Data Source={path}"))
        {
            await conn.OpenAsync();
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = """
                CREATE TABLE jobs (
                    id text PRIMARY KEY, tenant text NOT NULL, kind text NOT NULL, spec text NOT NULL, state text NOT NULL,
                    attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL, claims integer NOT NULL DEFAULT 0,
                    lease_owner text, lease_expires bigint, step integer NOT NULL DEFAULT 0, total_steps integer NOT NULL DEFAULT 0,
                    loss double precision, eta_seconds double precision, error text, cancel_requested integer NOT NULL DEFAULT 0,
                    idempotency_key text, created_at bigint NOT NULL, updated_at bigint NOT NULL);
                INSERT INTO jobs (id, tenant, kind, spec, state, max_attempts, created_at, updated_at)
                VALUES ('old-job', 'a', 'noop', '{"kind":"noop"}', 'queued', 3, 0, 0);
                """;
            await cmd.ExecuteNonQueryAsync();
        }
        await using var store = new SqliteJobStore(path);
        await store.InitializeAsync(default);
        var job = await store.ClaimAsync("w1", TimeSpan.FromMinutes(1), default);
        Assert.Equal(("old-job", JobStates.Running, 0), (job!.Id, job.State, job.CrashResumes));
        Assert.True(await store.UpdateProgressAsync("old-job", "w1", new JobProgress(2, 4, 1.0, null, 2), default));
    }
}
