// What becomes of a running job whose lease expired (its worker was killed or lost touch), decided from the
// row alone. The rule: a step run since the claim (the claim resumes at the checkpoint, so step > the claim's
// checkpoint step) or a newer checkpoint means the job advanced, so the expiry is a crash-resume (the attempt is
// refunded and a resume counted, up to its own cap); no progress spends the attempt. A pending cancel request ends the job as cancelled. It reads nothing else and writes nothing.
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Worker.Store;

internal sealed record LeaseSettlement(string State, bool Resumed, string? Error, string Outcome, string EventJson)
{
    public static LeaseSettlement Of(JobRecord j)
    {
        string who = $"worker {j.LeaseOwner} stopped heartbeating";
        if (j.CancelRequested)
        {
            return new(JobStates.Cancelled, false, null, "expired-cancelled",
                Event(JobStates.Cancelled, "reason", $"cancel requested and {who}", j));
        }
        if (j.Step > j.ClaimCheckpointStep || j.CheckpointStep > j.ClaimCheckpointStep)
        {
            if (j.CrashResumes < j.MaxCrashResumes)
            {
                return new(JobStates.Queued, true, null, "expired-resume",
                    Event(JobStates.Queued, "reason",
                        $"{who} after progress (resumed at step {j.ClaimCheckpointStep}, reached step {j.Step}, checkpoint at {j.CheckpointStep}); crash-resume {j.CrashResumes + 1} of {j.MaxCrashResumes}, no attempt spent", j));
            }
            string capped = $"lease expired after {j.MaxCrashResumes} crash-resumes, the cap ({who}; last checkpoint at step {j.CheckpointStep})";
            return new(JobStates.Failed, false, capped, "expired-failed", Event(JobStates.Failed, "error", capped, j));
        }
        if (j.Attempts < j.MaxAttempts)
        {
            return new(JobStates.Queued, false, null, "expired-retry",
                Event(JobStates.Queued, "reason", $"{who} without progress on attempt {j.Attempts} of {j.MaxAttempts}; retrying", j));
        }
        string error = $"lease expired on attempt {j.Attempts} of {j.MaxAttempts} ({who} without progress)";
        return new(JobStates.Failed, false, error, "expired-failed", Event(JobStates.Failed, "error", error, j));
    }

    private static string Event(string state, string key, string text, JobRecord j) =>
        $$"""{"state":"{{state}}","{{key}}":{{SqlJobStore.Json(text)}},"step":{{j.Step}},"checkpoint_step":{{j.CheckpointStep}}}""";
}
