// This process's name in claims and logs: configured, or host-pid-random so restarts never reuse one.
namespace OnnxLora.Worker;

public sealed class WorkerIdentity(string id)
{
    public string Id { get; } = id;

    public static WorkerIdentity From(WorkerOptions o) =>
        new(o.WorkerId ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
}
