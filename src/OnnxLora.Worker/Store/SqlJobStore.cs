// The job store in portable SQL over ADO.NET; SqliteJobStore and PostgresJobStore supply the connection,
// the clock expression, the claim transaction and the row lock (FOR UPDATE SKIP LOCKED on PostgreSQL).
// Every state change checks the lease owner in its WHERE clause, so a worker that lost its lease cannot
// complete, fail or release a job another worker now holds. Every transition writes its state event in the
// same transaction, so a job's event stream always ends with the state the row shows.
using System.Data.Common;
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Worker.Store;

public abstract class SqlJobStore : IJobStore
{
    private const string JobColumns =
        "id, tenant, kind, spec, state, attempts, max_attempts, claims, lease_owner, lease_expires, step, total_steps, " +
        "loss, eta_seconds, error, cancel_requested, idempotency_key, created_at, updated_at, crash_resumes, max_crash_resumes, " +
        "checkpoint_step, claim_checkpoint_step";

    // Columns added after the first release: created on tables that lack them (ALTER TABLE ... ADD COLUMN).
    private static readonly (string Table, string Column, string Definition)[] s_addedColumns =
    [
        ("jobs", "crash_resumes", "integer NOT NULL DEFAULT 0"),
        ("jobs", "max_crash_resumes", "integer NOT NULL DEFAULT 0"),
        ("jobs", "checkpoint_step", "integer NOT NULL DEFAULT 0"),
        ("jobs", "claim_checkpoint_step", "integer NOT NULL DEFAULT 0"),
    ];

    /// <summary>SQL expression for the store clock's current time in Unix milliseconds.</summary>
    protected abstract string Now { get; }

    /// <summary>Column definition of the auto-numbered event sequence.</summary>
    protected abstract string SerialPrimaryKey { get; }

    /// <summary>Suffix of the candidate SELECT that locks the row and skips rows other claimers hold.</summary>
    protected abstract string ClaimLock { get; }

    protected abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>The transaction a claim, a submission or the DDL runs in (SQLite: BEGIN IMMEDIATE, i.e. the write lock up front).</summary>
    protected virtual Task<DbTransaction> BeginWriteAsync(DbConnection conn, CancellationToken ct) =>
        conn.BeginTransactionAsync(ct).AsTask();

    /// <summary>Statements run before the DDL inside its transaction (PostgreSQL: an advisory lock).</summary>
    protected virtual string SchemaPreamble => "";

    /// <summary>A statement that serialises submissions of one tenant (@lock: a number from its name), or "" when
    /// <see cref="BeginWriteAsync"/> already does (SQLite).</summary>
    protected virtual string TenantLock => "";

    public virtual async Task InitializeAsync(CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using var tx = await BeginWriteAsync(conn, ct);
        if (SchemaPreamble.Length > 0)
        {
            await ExecAsync(conn, tx, SchemaPreamble, ct);
        }
        string[] ddl =
        [
            """
            CREATE TABLE IF NOT EXISTS jobs (
                id text PRIMARY KEY, tenant text NOT NULL, kind text NOT NULL, spec text NOT NULL, state text NOT NULL,
                attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL, claims integer NOT NULL DEFAULT 0,
                lease_owner text, lease_expires bigint, step integer NOT NULL DEFAULT 0, total_steps integer NOT NULL DEFAULT 0,
                loss double precision, eta_seconds double precision, error text, cancel_requested integer NOT NULL DEFAULT 0,
                idempotency_key text, created_at bigint NOT NULL, updated_at bigint NOT NULL)
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs (tenant, idempotency_key)",
            "CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (state, created_at)",
            "CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs (tenant, id)",
            """
            CREATE TABLE IF NOT EXISTS job_claims (
                job_id text NOT NULL, claim_no integer NOT NULL, attempt integer NOT NULL, worker text NOT NULL,
                claimed_at bigint NOT NULL, lease_until bigint NOT NULL, ended_at bigint, outcome text,
                PRIMARY KEY (job_id, claim_no))
            """,
            $"CREATE TABLE IF NOT EXISTS job_events (seq {SerialPrimaryKey}, job_id text NOT NULL, kind text NOT NULL, data text NOT NULL, created_at bigint NOT NULL)",
            "CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq)",
        ];
        foreach (var sql in ddl)
        {
            await ExecAsync(conn, tx, sql, ct);
        }
        foreach (var table in s_addedColumns.Select(c => c.Table).Distinct())
        {
            var present = await ColumnsAsync(conn, tx, table, ct);
            foreach (var (_, column, definition) in s_addedColumns.Where(c => c.Table == table && !present.Contains(c.Column)))
            {
                await ExecAsync(conn, tx, $"ALTER TABLE {table} ADD COLUMN {column} {definition}", ct);
            }
        }
        await tx.CommitAsync(ct);
    }

    private static async Task<HashSet<string>> ColumnsAsync(DbConnection conn, DbTransaction tx, string table, CancellationToken ct)
    {
        await using var cmd = Command(conn, tx, $"SELECT * FROM {table} WHERE 1 = 0");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return Enumerable.Range(0, r.FieldCount).Select(i => r.GetName(i).ToLowerInvariant()).ToHashSet();
    }

    public async Task PingAsync(CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await ExecAsync(conn, null, "SELECT 1", ct);
    }

    public async Task<SubmitResult> SubmitAsync(NewJob job, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using var tx = await BeginWriteAsync(conn, ct);
        if (TenantLock.Length > 0)
        {
            await ExecAsync(conn, tx, TenantLock, ct, ("lock", TenantLockKey(job.Tenant)));
        }
        if (job.IdempotencyKey is not null)
        {
            var existing = await QueryJobsAsync(conn, tx, $"SELECT {JobColumns} FROM jobs WHERE tenant = @tenant AND idempotency_key = @key", ct,
                ("tenant", job.Tenant), ("key", job.IdempotencyKey));
            if (existing.Count > 0)
            {
                await tx.CommitAsync(ct);
                return new SubmitResult(existing[0], Created: false);
            }
        }
        if (job.MaxActiveJobs > 0)
        {
            var active = await QueryStringsAsync(conn, tx,
                $"SELECT count(*) FROM jobs WHERE tenant = @tenant AND state IN ('{JobStates.Queued}', '{JobStates.Running}')", ct,
                ("tenant", job.Tenant));
            int n = int.Parse(active[0], System.Globalization.CultureInfo.InvariantCulture);
            if (n >= job.MaxActiveJobs)
            {
                await tx.CommitAsync(ct);
                return new SubmitResult(null, Created: false, ActiveJobs: n);
            }
        }
        string id = JobIds.Next();
        await ExecAsync(conn, tx,
            $"""
            INSERT INTO jobs (id, tenant, kind, spec, state, max_attempts, max_crash_resumes, idempotency_key, created_at, updated_at)
            VALUES (@id, @tenant, @kind, @spec, '{JobStates.Queued}', @max, @maxResumes, @key, {Now}, {Now})
            """, ct, ("id", id), ("tenant", job.Tenant), ("kind", job.Kind), ("spec", job.Spec), ("max", job.MaxAttempts),
            ("maxResumes", job.MaxCrashResumes), ("key", job.IdempotencyKey));
        await InsertEventAsync(conn, tx, id, "state", $$"""{"state":"{{JobStates.Queued}}"}""", ct);
        var rows = await QueryJobsAsync(conn, tx, $"SELECT {JobColumns} FROM jobs WHERE id = @id", ct, ("id", id));
        await tx.CommitAsync(ct);
        return new SubmitResult(rows.Single(), Created: true);
    }

    /// <summary>A stable 63-bit number for a tenant's name (first 8 bytes of its SHA-256).</summary>
    private static long TenantLockKey(string tenant) =>
        System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes("tenant:" + tenant))) & long.MaxValue;

    public async Task<JobRecord?> GetAsync(string? tenant, string id, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        var rows = await QueryJobsAsync(conn, null,
            $"SELECT {JobColumns} FROM jobs WHERE id = @id AND (@tenant IS NULL OR tenant = @tenant)", ct, ("id", id), ("tenant", tenant));
        return rows.SingleOrDefault();
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(string tenant, string? afterId, int limit, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        return await QueryJobsAsync(conn, null,
            $"SELECT {JobColumns} FROM jobs WHERE tenant = @tenant AND id > @after ORDER BY id LIMIT @limit", ct,
            ("tenant", tenant), ("after", afterId ?? ""), ("limit", limit));
    }

    public async Task<CancelResult?> RequestCancelAsync(string tenant, string id, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var states = await QueryStringsAsync(conn, tx,
            $"""
            UPDATE jobs SET state = CASE WHEN state = '{JobStates.Queued}' THEN '{JobStates.Cancelled}' ELSE state END,
                cancel_requested = 1, updated_at = {Now}
            WHERE id = @id AND tenant = @tenant AND state IN ('{JobStates.Queued}', '{JobStates.Running}')
            RETURNING state
            """, ct, ("id", id), ("tenant", tenant));
        if (states.Count > 0)
        {
            await InsertEventAsync(conn, tx, id, "log", """{"message":"cancel requested"}""", ct);
            if (states[0] == JobStates.Cancelled)
            {
                await InsertEventAsync(conn, tx, id, "state", $$"""{"state":"{{JobStates.Cancelled}}","reason":"cancelled while queued"}""", ct);
            }
        }
        var rows = await QueryJobsAsync(conn, tx, $"SELECT {JobColumns} FROM jobs WHERE id = @id AND tenant = @tenant", ct,
            ("id", id), ("tenant", tenant));
        await tx.CommitAsync(ct);
        return rows.Count == 0 ? null : new CancelResult(rows[0], Accepted: states.Count > 0);
    }

    public async Task<JobRecord?> ClaimAsync(string worker, TimeSpan lease, CancellationToken ct)
    {
        long leaseMs = (long)lease.TotalMilliseconds;
        await using var conn = await OpenAsync(ct);
        await using var tx = await BeginWriteAsync(conn, ct);
        await SettleExpiredLeasesAsync(conn, tx, ct);
        var candidates = await QueryStringsAsync(conn, tx,
            $"""
            SELECT id FROM jobs
            WHERE state = '{JobStates.Queued}' AND attempts < max_attempts AND cancel_requested = 0
            ORDER BY created_at, id LIMIT 1 {ClaimLock}
            """, ct);
        if (candidates.Count == 0)
        {
            await tx.CommitAsync(ct);
            return null;
        }
        string id = candidates[0];
        var rows = await QueryJobsAsync(conn, tx,
            $"""
            UPDATE jobs SET state = '{JobStates.Running}', attempts = attempts + 1, claims = claims + 1, lease_owner = @worker,
                lease_expires = {Now} + @lease, claim_checkpoint_step = checkpoint_step, step = checkpoint_step, updated_at = {Now}
            WHERE id = @id RETURNING {JobColumns}
            """, ct, ("worker", worker), ("lease", leaseMs), ("id", id));
        var job = rows.Single();
        await ExecAsync(conn, tx,
            $"""
            INSERT INTO job_claims (job_id, claim_no, attempt, worker, claimed_at, lease_until)
            VALUES (@id, @claim, @attempt, @worker, {Now}, {Now} + @lease)
            """, ct, ("id", id), ("claim", job.Claims), ("attempt", job.Attempts), ("worker", worker), ("lease", leaseMs));
        await InsertEventAsync(conn, tx, id, "state",
            $$"""{"state":"{{JobStates.Running}}","worker":{{Json(worker)}},"attempt":{{job.Attempts}},"crash_resumes":{{job.CrashResumes}},"resume_from_step":{{job.CheckpointStep}}}""", ct);
        await tx.CommitAsync(ct);
        return job;
    }

    /// <summary>
    /// Every running job whose lease ran out: its worker died or lost touch. A newer checkpoint than at the claim
    /// makes it a crash-resume (attempt refunded, resume counted, capped); otherwise the attempt is spent. Either
    /// way the claim is closed and the state event written; cancel requests and exhausted caps end the job here.
    /// </summary>
    private async Task SettleExpiredLeasesAsync(DbConnection conn, DbTransaction tx, CancellationToken ct)
    {
        var expired = await QueryJobsAsync(conn, tx,
            $"SELECT {JobColumns} FROM jobs WHERE state = '{JobStates.Running}' AND lease_expires < {Now} ORDER BY id {ClaimLock}", ct);
        foreach (var j in expired)
        {
            var s = LeaseSettlement.Of(j);
            int n = await ExecAsync(conn, tx,
                $"""
                UPDATE jobs SET state = @state, error = COALESCE(@error, error), attempts = attempts - @refund,
                    crash_resumes = crash_resumes + @resumed, lease_owner = NULL, lease_expires = NULL, updated_at = {Now}
                WHERE id = @id AND state = '{JobStates.Running}' AND lease_expires < {Now}
                """, ct, ("state", s.State), ("error", s.Error), ("refund", s.Resumed ? 1 : 0), ("resumed", s.Resumed ? 1 : 0), ("id", j.Id));
            if (n == 0)
            {
                continue;
            }
            await ExecAsync(conn, tx,
                $"UPDATE job_claims SET ended_at = {Now}, outcome = @outcome WHERE job_id = @id AND ended_at IS NULL", ct,
                ("outcome", s.Outcome), ("id", j.Id));
            await InsertEventAsync(conn, tx, j.Id, "state", s.EventJson, ct);
        }
    }

    public async Task<LeaseStatus> HeartbeatAsync(string id, string worker, TimeSpan lease, JobProgress? progress, CancellationToken ct)
    {
        long leaseMs = (long)lease.TotalMilliseconds;
        await using var conn = await OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        string set = progress is null ? "" : ", " + ProgressSet;
        var flags = await QueryStringsAsync(conn, tx,
            $"""
            UPDATE jobs SET lease_expires = {Now} + @lease, updated_at = {Now}{set}
            WHERE id = @id AND lease_owner = @worker AND state = '{JobStates.Running}'
            RETURNING CAST(cancel_requested AS text)
            """, ct, [("lease", leaseMs), ("id", id), ("worker", worker), .. ProgressArgs(progress)]);
        if (flags.Count == 0)
        {
            await tx.CommitAsync(ct);
            return LeaseStatus.Lost;
        }
        await ExecAsync(conn, tx,
            $"UPDATE job_claims SET lease_until = {Now} + @lease WHERE job_id = @id AND worker = @worker AND ended_at IS NULL", ct,
            ("lease", leaseMs), ("id", id), ("worker", worker));
        await tx.CommitAsync(ct);
        return flags[0] == "1" ? LeaseStatus.CancelRequested : LeaseStatus.Held;
    }

    public async Task<bool> UpdateProgressAsync(string id, string worker, JobProgress progress, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        return await ExecAsync(conn, null,
            $"UPDATE jobs SET {ProgressSet}, updated_at = {Now} WHERE id = @id AND lease_owner = @worker AND state = '{JobStates.Running}'",
            ct, [("id", id), ("worker", worker), .. ProgressArgs(progress)]) > 0;
    }

    // The checkpoint step only grows: a late report from a resumed run never hides a newer checkpoint.
    private const string ProgressSet = "step = @step, total_steps = @total, loss = @loss, eta_seconds = @eta, " +
        "checkpoint_step = CASE WHEN @ckpt > checkpoint_step THEN @ckpt ELSE checkpoint_step END";

    private static (string Name, object? Value)[] ProgressArgs(JobProgress? p) =>
        [("step", p?.Step ?? 0), ("total", p?.TotalSteps ?? 0), ("loss", p?.Loss), ("eta", p?.EtaSeconds), ("ckpt", p?.CheckpointStep ?? 0)];

    public Task<bool> CompleteAsync(string id, string worker, CancellationToken ct) =>
        EndAsync(id, worker, $"state = '{JobStates.Succeeded}', step = total_steps, eta_seconds = 0", "succeeded",
            _ => $$"""{"state":"{{JobStates.Succeeded}}"}""", ct);

    // A retryable failure after progress (a step run since the claim, which resumed at claim_checkpoint_step) is a
    // resume like a crash: no attempt spent.
    private const string ResumesAfterFailure =
        "CASE WHEN @retry = 1 AND (step > claim_checkpoint_step OR checkpoint_step > claim_checkpoint_step) " +
        "AND crash_resumes < max_crash_resumes THEN 1 ELSE 0 END";

    public Task<bool> FailAsync(string id, string worker, string error, bool retryable, CancellationToken ct) =>
        EndAsync(id, worker,
            $"state = CASE WHEN cancel_requested = 1 THEN '{JobStates.Cancelled}' " +
            $"WHEN @retry = 1 AND (attempts < max_attempts OR {ResumesAfterFailure} = 1) THEN '{JobStates.Queued}' " +
            $"ELSE '{JobStates.Failed}' END, error = @error, attempts = attempts - {ResumesAfterFailure}, " +
            $"crash_resumes = crash_resumes + {ResumesAfterFailure}",
            retryable ? "failed-retryable" : "failed",
            j => j.State == JobStates.Cancelled ? $$"""{"state":"{{JobStates.Cancelled}}","error":{{Json(error)}}}"""
                : j.State == JobStates.Queued
                ? $$"""{"state":"{{JobStates.Queued}}","reason":{{Json($"retrying after a failure (attempts {j.Attempts} of {j.MaxAttempts}, resumes {j.CrashResumes}): {error}")}}}"""
                : $$"""{"state":"{{JobStates.Failed}}","error":{{Json(error)}},"retryable":{{(retryable ? "true" : "false")}}}""",
            ct, ("retry", retryable ? 1 : 0), ("error", error));

    // A job handed back after its owner asked to cancel ends cancelled: queued with cancel_requested it could never be
    // claimed again (the claim skips cancel requests) and would stay queued for ever.
    public Task<bool> ReleaseAsync(string id, string worker, CancellationToken ct) =>
        EndAsync(id, worker,
            $"state = CASE WHEN cancel_requested = 1 THEN '{JobStates.Cancelled}' ELSE '{JobStates.Queued}' END, attempts = attempts - 1",
            "released",
            j => j.State == JobStates.Cancelled
                ? $$"""{"state":"{{JobStates.Cancelled}}"}"""
                : $$"""{"state":"{{JobStates.Queued}}","reason":"worker shut down; resumes from its checkpoint"}""", ct);

    public Task<bool> MarkCancelledAsync(string id, string worker, CancellationToken ct) =>
        EndAsync(id, worker, $"state = '{JobStates.Cancelled}'", "cancelled", _ => $$"""{"state":"{{JobStates.Cancelled}}"}""", ct);

    public async Task AppendEventsAsync(string jobId, IReadOnlyList<(string Kind, string Data)> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return;
        }
        await using var conn = await OpenAsync(ct);
        await using var tx = await BeginWriteAsync(conn, ct);
        foreach (var (kind, data) in events)
        {
            await InsertEventAsync(conn, tx, jobId, kind, data, ct);
        }
        await tx.CommitAsync(ct);
    }

    public async Task<IReadOnlyList<JobEvent>> ReadEventsAsync(string jobId, long afterSeq, int limit, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using var cmd = Command(conn, null,
            "SELECT seq, job_id, kind, data, created_at FROM job_events WHERE job_id = @id AND seq > @after ORDER BY seq LIMIT @limit",
            ("id", jobId), ("after", afterSeq), ("limit", limit));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<JobEvent>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new JobEvent(Convert.ToInt64(r.GetValue(0)), r.GetString(1), r.GetString(2), r.GetString(3), Convert.ToInt64(r.GetValue(4))));
        }
        return list;
    }

    public async Task<IReadOnlyList<ClaimRecord>> ClaimsAsync(string? jobId, CancellationToken ct)
    {
        await using var conn = await OpenAsync(ct);
        await using var cmd = Command(conn, null,
            "SELECT job_id, claim_no, attempt, worker, claimed_at, lease_until, ended_at, outcome FROM job_claims " +
            "WHERE @id IS NULL OR job_id = @id ORDER BY job_id, claim_no", ("id", jobId));
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ClaimRecord>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new ClaimRecord(r.GetString(0), Convert.ToInt32(r.GetValue(1)), Convert.ToInt32(r.GetValue(2)), r.GetString(3),
                Convert.ToInt64(r.GetValue(4)), Convert.ToInt64(r.GetValue(5)), r.IsDBNull(6) ? null : Convert.ToInt64(r.GetValue(6)),
                r.IsDBNull(7) ? null : r.GetString(7)));
        }
        return list;
    }

    public abstract ValueTask DisposeAsync();

    private async Task<bool> EndAsync(string id, string worker, string set, string outcome, Func<JobRecord, string> eventData,
        CancellationToken ct, params (string Name, object? Value)[] extra)
    {
        await using var conn = await OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var rows = await QueryJobsAsync(conn, tx,
            $"""
            UPDATE jobs SET {set}, lease_owner = NULL, lease_expires = NULL, updated_at = {Now}
            WHERE id = @id AND lease_owner = @worker AND state = '{JobStates.Running}'
            RETURNING {JobColumns}
            """, ct, [("id", id), ("worker", worker), .. extra]);
        if (rows.Count > 0)
        {
            await ExecAsync(conn, tx,
                $"UPDATE job_claims SET ended_at = {Now}, outcome = @outcome WHERE job_id = @id AND worker = @worker AND ended_at IS NULL", ct,
                ("outcome", outcome), ("id", id), ("worker", worker));
            await InsertEventAsync(conn, tx, id, "state", eventData(rows[0]), ct);
        }
        await tx.CommitAsync(ct);
        return rows.Count > 0;
    }

    private Task<int> InsertEventAsync(DbConnection conn, DbTransaction? tx, string jobId, string kind, string data, CancellationToken ct) =>
        ExecAsync(conn, tx, $"INSERT INTO job_events (job_id, kind, data, created_at) VALUES (@id, @kind, @data, {Now})", ct,
            ("id", jobId), ("kind", kind), ("data", data));

    internal static string Json(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    protected static DbCommand Command(DbConnection conn, DbTransaction? tx, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach (var (name, value) in args)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            if (value is null)
            {
                p.DbType = name is "loss" or "eta" ? System.Data.DbType.Double : System.Data.DbType.String;
            }
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    protected static async Task<int> ExecAsync(DbConnection conn, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] args)
    {
        await using var cmd = Command(conn, tx, sql, args);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    protected static async Task<List<string>> QueryStringsAsync(DbConnection conn, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] args)
    {
        await using var cmd = Command(conn, tx, sql, args);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<string>();
        while (await r.ReadAsync(ct))
        {
            list.Add(Convert.ToString(r.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }
        return list;
    }

    private static async Task<List<JobRecord>> QueryJobsAsync(DbConnection conn, DbTransaction? tx, string sql, CancellationToken ct,
        params (string Name, object? Value)[] args)
    {
        await using var cmd = Command(conn, tx, sql, args);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<JobRecord>();
        while (await r.ReadAsync(ct))
        {
            list.Add(new JobRecord(
                r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4),
                Convert.ToInt32(r.GetValue(5)), Convert.ToInt32(r.GetValue(6)), Convert.ToInt32(r.GetValue(7)),
                r.IsDBNull(8) ? null : r.GetString(8), r.IsDBNull(9) ? null : Convert.ToInt64(r.GetValue(9)),
                Convert.ToInt32(r.GetValue(10)), Convert.ToInt32(r.GetValue(11)),
                r.IsDBNull(12) ? null : Convert.ToDouble(r.GetValue(12)), r.IsDBNull(13) ? null : Convert.ToDouble(r.GetValue(13)),
                r.IsDBNull(14) ? null : r.GetString(14), Convert.ToInt32(r.GetValue(15)) != 0,
                r.IsDBNull(16) ? null : r.GetString(16), Convert.ToInt64(r.GetValue(17)), Convert.ToInt64(r.GetValue(18)),
                Convert.ToInt32(r.GetValue(19)), Convert.ToInt32(r.GetValue(20)), Convert.ToInt32(r.GetValue(21)), Convert.ToInt32(r.GetValue(22))));
        }
        return list;
    }
}
