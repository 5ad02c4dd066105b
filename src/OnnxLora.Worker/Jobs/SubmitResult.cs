// A submission's outcome: the job, and whether it is new or an earlier one with the same idempotency key.
namespace OnnxLora.Worker.Jobs;

public sealed record SubmitResult(JobRecord Job, bool Created);
