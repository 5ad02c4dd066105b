// Thrown by Trainer.Run when its caller withdrew permission to write (a worker whose lease on the job may have
// lapsed, so another process may own the run folder now): the run stops before its next write and writes nothing more.
namespace OnnxLora.Training.Run;

public sealed class RunFencedException(int step) : OperationCanceledException($"run stopped after step {step}: no longer allowed to write its folder")
{
    /// <summary>The last step whose metrics row was written.</summary>
    public int Step { get; } = step;
}
