// The job table behind the API and the workers. Claims are exclusive: a job is running on at most one
// worker at a time, held by a lease that heartbeats renew. A lease that expires is settled by the next claim:
// after progress (a newer checkpoint than at the claim) it is a crash-resume, counted against its own cap;
// without progress it spends an attempt. Every settlement closes the claim and writes the state event.
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Worker.Store;

public interface IJobStore : IAsyncDisposable
{
    /// <summary>Creates the tables if they are missing (safe to call from many workers at once).</summary>
    Task InitializeAsync(CancellationToken ct);

    Task PingAsync(CancellationToken ct);

    /// <summary>Inserts a queued job; with an idempotency key already used by the tenant, returns that job instead;
    /// refuses (Job null) when the tenant already has <see cref="NewJob.MaxActiveJobs"/> queued or running.</summary>
    Task<SubmitResult> SubmitAsync(NewJob job, CancellationToken ct);

    /// <summary>The job, or null when it does not exist or belongs to another tenant (null tenant: any).</summary>
    Task<JobRecord?> GetAsync(string? tenant, string id, CancellationToken ct);

    /// <summary>The tenant's jobs in id (= submission) order, after <paramref name="afterId"/>.</summary>
    Task<IReadOnlyList<JobRecord>> ListAsync(string tenant, string? afterId, int limit, CancellationToken ct);

    /// <summary>Cancels a queued job at once, or flags a running one for its worker; null if not the tenant's.</summary>
    Task<CancelResult?> RequestCancelAsync(string tenant, string id, CancellationToken ct);

    /// <summary>Settles expired leases, then takes the oldest queued job for <paramref name="worker"/>, or null when there is none.</summary>
    Task<JobRecord?> ClaimAsync(string worker, TimeSpan lease, CancellationToken ct);

    Task<LeaseStatus> HeartbeatAsync(string id, string worker, TimeSpan lease, JobProgress? progress, CancellationToken ct);

    /// <summary>Writes progress to the row while <paramref name="worker"/> holds the lease (between heartbeats).</summary>
    Task<bool> UpdateProgressAsync(string id, string worker, JobProgress progress, CancellationToken ct);

    /// <summary>running → succeeded, only while <paramref name="worker"/> holds the lease.</summary>
    Task<bool> CompleteAsync(string id, string worker, CancellationToken ct);

    /// <summary>running → queued (retryable and attempts left) or failed with <paramref name="error"/>.</summary>
    Task<bool> FailAsync(string id, string worker, string error, bool retryable, CancellationToken ct);

    /// <summary>Graceful shutdown: running → queued without spending an attempt.</summary>
    Task<bool> ReleaseAsync(string id, string worker, CancellationToken ct);

    /// <summary>running → cancelled after the worker honoured a cancel request.</summary>
    Task<bool> MarkCancelledAsync(string id, string worker, CancellationToken ct);

    /// <summary>Appends <paramref name="events"/> in order, in one transaction (a running job's progress and log lines).</summary>
    Task AppendEventsAsync(string jobId, IReadOnlyList<(string Kind, string Data)> events, CancellationToken ct);

    Task<IReadOnlyList<JobEvent>> ReadEventsAsync(string jobId, long afterSeq, int limit, CancellationToken ct);

    /// <summary>Claim history, for audits and tests (null: every job).</summary>
    Task<IReadOnlyList<ClaimRecord>> ClaimsAsync(string? jobId, CancellationToken ct);
}
