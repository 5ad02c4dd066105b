// The progress figures the worker writes to the job row: the step reached, the newest checkpoint's step
// (what a crash-resume would continue from; its advance since the claim is what counts as progress).
namespace OnnxLora.Worker.Jobs;

public sealed record JobProgress(int Step, int TotalSteps, double? Loss, double? EtaSeconds, int CheckpointStep = 0);
