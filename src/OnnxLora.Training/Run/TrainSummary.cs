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
    long PeakRssBytes)
{
    /// <summary>Examples dropped because they had nothing to learn (blank text, completion or assistant turns).</summary>
    public int EmptyExamples { get; init; }

    /// <summary>Examples dropped because no token carried loss (e.g. the prompt alone filled max_seq_len).</summary>
    public int NoCountedTokenExamples { get; init; }
}
