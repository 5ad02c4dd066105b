// The answer to a cancel request: the job as it is now, and whether the request took effect (false when the
// job had already finished, which the API answers with 409).
namespace OnnxLora.Worker.Jobs;

public sealed record CancelResult(JobRecord Job, bool Accepted);
