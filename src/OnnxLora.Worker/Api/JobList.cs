// One page of GET /v1/jobs; pass Next as ?after= for the following page (null: no more).
namespace OnnxLora.Worker.Api;

public sealed record JobList(IReadOnlyList<JobView> Jobs, string? Next);
