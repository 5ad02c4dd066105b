// What a submission inserts: a validated spec (JSON), its kind, the tenant, an optional idempotency key,
// the caps on attempts and crash-resumes, and the tenant's quota of queued + running jobs (0: none).
namespace OnnxLora.Worker.Jobs;

public sealed record NewJob(string Tenant, string Kind, string Spec, int MaxAttempts, string? IdempotencyKey = null,
    int MaxCrashResumes = 0, int MaxActiveJobs = 0);
