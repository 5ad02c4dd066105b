// One row of the job table as the store returns it. Times are Unix milliseconds of the store's clock
// (PostgreSQL's own clock when there is one, so many machines agree on lease expiry). Attempts count
// claims that ended without progress; crash-resumes count leases that expired after the job advanced.
namespace OnnxLora.Worker.Jobs;

public sealed record JobRecord(
    string Id,
    string Tenant,
    string Kind,
    string Spec,
    string State,
    int Attempts,
    int MaxAttempts,
    int Claims,
    string? LeaseOwner,
    long? LeaseExpiresMs,
    int Step,
    int TotalSteps,
    double? Loss,
    double? EtaSeconds,
    string? Error,
    bool CancelRequested,
    string? IdempotencyKey,
    long CreatedMs,
    long UpdatedMs,
    int CrashResumes = 0,
    int MaxCrashResumes = 0,
    int CheckpointStep = 0,
    int ClaimCheckpointStep = 0);
