// What GET /v1/jobs/{id} answers: state, progress (step, newest checkpoint), last loss, ETA, error, attempts
// and crash-resumes with their caps and, once succeeded, the artifacts.
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Worker.Api;

public sealed record JobView(
    string Id,
    string Kind,
    string State,
    int Step,
    int TotalSteps,
    double? Loss,
    double? EtaSeconds,
    string? Error,
    int Attempts,
    int MaxAttempts,
    bool CancelRequested,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<string>? Artifacts,
    int CheckpointStep,
    int CrashResumes,
    int MaxCrashResumes)
{
    public static JobView From(JobRecord j, IReadOnlyList<string>? artifacts = null) => new(
        j.Id, j.Kind, j.State, j.Step, j.TotalSteps, j.Loss, j.EtaSeconds, j.Error, j.Attempts, j.MaxAttempts, j.CancelRequested,
        DateTimeOffset.FromUnixTimeMilliseconds(j.CreatedMs), DateTimeOffset.FromUnixTimeMilliseconds(j.UpdatedMs), artifacts,
        j.CheckpointStep, j.CrashResumes, j.MaxCrashResumes);
}
