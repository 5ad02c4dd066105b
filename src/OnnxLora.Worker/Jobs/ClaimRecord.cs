// One claim of a job by a worker: when it began, how long its lease reached at the last heartbeat,
// and how it ended (null while running or when the worker died). The audit trail for exactly-once checks.
namespace OnnxLora.Worker.Jobs;

public sealed record ClaimRecord(string JobId, int ClaimNo, int Attempt, string Worker, long ClaimedMs, long LeaseUntilMs,
    long? EndedMs, string? Outcome);
