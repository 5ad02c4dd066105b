// The answer to a heartbeat: the lease is still ours, ours but the job's owner asked to cancel, or lost.
namespace OnnxLora.Worker.Jobs;

public enum LeaseStatus
{
    Held,
    CancelRequested,
    Lost,
}
