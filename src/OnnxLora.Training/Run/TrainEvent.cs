// What the trainer reports while it runs; the CLI and the worker render it (bar, SSE, logs).
namespace OnnxLora.Training.Run;

public sealed record TrainEvent(string Kind, int Step, int TotalSteps, double? Loss = null, double? LearningRate = null,
    double? TokensPerSecond = null, TimeSpan? Eta = null, string? Message = null);
