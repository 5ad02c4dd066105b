// The answer to POST /v1/jobs: the job id and its state (an idempotent replay returns the first job).
namespace OnnxLora.Worker.Api;

public sealed record SubmitResponse(string Id, string State, bool Created);
