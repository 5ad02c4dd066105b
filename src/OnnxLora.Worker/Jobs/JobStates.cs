// The states of a job. queued → running → succeeded | failed | cancelled; running goes back to queued
// when a worker shuts down gracefully, fails transiently or its lease expires.
namespace OnnxLora.Worker.Jobs;

public static class JobStates
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsTerminal(string state) => state is Succeeded or Failed or Cancelled;
}
