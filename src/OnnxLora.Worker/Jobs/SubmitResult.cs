// A submission's outcome: a new job, an earlier one with the same idempotency key, or a refusal because the
// tenant already has its quota of queued + running jobs (Job is null then; ActiveJobs says how many).
namespace OnnxLora.Worker.Jobs;

public sealed record SubmitResult(JobRecord? Job, bool Created, int ActiveJobs = 0)
{
    public bool QuotaExceeded => Job is null;
}
