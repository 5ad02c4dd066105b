// The outcome of a training run: where things are, how far it got and the before/after figures.
namespace OnnxLora.Training.Run;

public sealed record TrainSummary(
    string RunDir,
    string AdapterDir,
    int Steps,
    bool Completed,
    double? FinalTrainLoss,
    double? EvalLossBefore,
    double? EvalLossAfter,
    long TrainableParameters,
    long TotalParameters,
    long AdapterBytes,
    long BaseModelBytes,
    int TruncatedExamples,
    double TokensPerSecond,
    long PeakRssBytes);
