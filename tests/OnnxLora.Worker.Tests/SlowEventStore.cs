// A job store whose event writes cost a fixed time per call (a commit on a loaded database), everything else
// passed through to a real store. It models the store under which a fast job's events back up; it changes no data.
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class SlowEventStore(IJobStore inner, TimeSpan perCall) : IJobStore
{
    public Task InitializeAsync(CancellationToken ct) => inner.InitializeAsync(ct);

    public Task PingAsync(CancellationToken ct) => inner.PingAsync(ct);

    public Task<SubmitResult> SubmitAsync(NewJob job, CancellationToken ct) => inner.SubmitAsync(job, ct);

    public Task<JobRecord?> GetAsync(string? tenant, string id, CancellationToken ct) => inner.GetAsync(tenant, id, ct);

    public Task<IReadOnlyList<JobRecord>> ListAsync(string tenant, string? afterId, int limit, CancellationToken ct) =>
        inner.ListAsync(tenant, afterId, limit, ct);

    public Task<CancelResult?> RequestCancelAsync(string tenant, string id, CancellationToken ct) => inner.RequestCancelAsync(tenant, id, ct);

    public Task<JobRecord?> ClaimAsync(string worker, TimeSpan lease, CancellationToken ct) => inner.ClaimAsync(worker, lease, ct);

    public Task<LeaseStatus> HeartbeatAsync(string id, string worker, TimeSpan lease, JobProgress? progress, CancellationToken ct) =>
        inner.HeartbeatAsync(id, worker, lease, progress, ct);

    public Task<bool> UpdateProgressAsync(string id, string worker, JobProgress progress, CancellationToken ct) =>
        inner.UpdateProgressAsync(id, worker, progress, ct);

    public Task<bool> CompleteAsync(string id, string worker, CancellationToken ct) => inner.CompleteAsync(id, worker, ct);

    public Task<bool> FailAsync(string id, string worker, string error, bool retryable, CancellationToken ct) =>
        inner.FailAsync(id, worker, error, retryable, ct);

    public Task<bool> ReleaseAsync(string id, string worker, CancellationToken ct) => inner.ReleaseAsync(id, worker, ct);

    public Task<bool> MarkCancelledAsync(string id, string worker, CancellationToken ct) => inner.MarkCancelledAsync(id, worker, ct);

    public async Task AppendEventsAsync(string jobId, IReadOnlyList<(string Kind, string Data)> events, CancellationToken ct)
    {
        await Task.Delay(perCall, ct);
        await inner.AppendEventsAsync(jobId, events, ct);
    }

    public Task<IReadOnlyList<JobEvent>> ReadEventsAsync(string jobId, long afterSeq, int limit, CancellationToken ct) =>
        inner.ReadEventsAsync(jobId, afterSeq, limit, ct);

    public Task<IReadOnlyList<ClaimRecord>> ClaimsAsync(string? jobId, CancellationToken ct) => inner.ClaimsAsync(jobId, ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
