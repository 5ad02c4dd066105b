// The progress figures a heartbeat writes to the job row.
namespace OnnxLora.Worker.Jobs;

public sealed record JobProgress(int Step, int TotalSteps, double? Loss, double? EtaSeconds);
