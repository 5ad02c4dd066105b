// What a submission inserts: a validated spec (JSON), its kind, the tenant and an optional idempotency key.
namespace OnnxLora.Worker.Jobs;

public sealed record NewJob(string Tenant, string Kind, string Spec, int MaxAttempts, string? IdempotencyKey = null);
