// The embedded default store: one SQLite file in WAL mode. A claim runs under BEGIN IMMEDIATE, so the
// write lock serialises claimers and submitters, including several worker processes on one machine sharing the file.
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace OnnxLora.Worker.Store;

public sealed class SqliteJobStore : SqlJobStore
{
    private const int BusyTimeoutSeconds = 30;
    private readonly string _connectionString;

    public SqliteJobStore(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = BusyTimeoutSeconds,
        }.ToString();
    }

    protected override string Now => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    protected override string SerialPrimaryKey => "INTEGER PRIMARY KEY AUTOINCREMENT";

    protected override string ClaimLock => "";

    public override async Task InitializeAsync(CancellationToken ct)
    {
        await using (var conn = await OpenAsync(ct))
        {
            await ExecAsync(conn, null, "PRAGMA journal_mode = WAL", ct);
        }
        await base.InitializeAsync(ct);
    }

    protected override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var conn = new SqliteConnection(_connectionString);
        await conn.OpenAsync(ct);
        await ExecAsync(conn, null, $"PRAGMA busy_timeout = {BusyTimeoutSeconds * 1000}; PRAGMA synchronous = FULL", ct);
        return conn;
    }

    protected override Task<DbTransaction> BeginWriteAsync(DbConnection conn, CancellationToken ct) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)conn).BeginTransaction(deferred: false));

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }
}
