// How one run of a job on this worker ended, which decides the store transition.
namespace OnnxLora.Worker.Execution;

public enum JobOutcome
{
    Succeeded,
    Cancelled,
    Released,
    LeaseLost,
    Failed,
}
