// The store for many workers: one PostgreSQL job table. Claims lock the candidate row with
// FOR UPDATE SKIP LOCKED, so concurrent claimers never wait on each other nor take the same job,
// and leases are measured on the server's clock so workers on different machines agree. Submissions of one
// tenant take an advisory lock on its name, so its quota of active jobs holds under concurrent submits.
using System.Data.Common;
using Npgsql;

namespace OnnxLora.Worker.Store;

public sealed class PostgresJobStore(string connectionString) : SqlJobStore
{
    private const long SchemaLockKey = 0x6F6E6E786C6F7261; // "onnxlora"

    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    protected override string Now => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS bigint)";

    protected override string SerialPrimaryKey => "bigserial PRIMARY KEY";

    protected override string ClaimLock => "FOR UPDATE SKIP LOCKED";

    protected override string SchemaPreamble => $"SELECT pg_advisory_xact_lock({SchemaLockKey})";

    protected override string TenantLock => "SELECT pg_advisory_xact_lock(@lock)";

    protected override async Task<DbConnection> OpenAsync(CancellationToken ct) => await _dataSource.OpenConnectionAsync(ct);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
