// Learning rate per optimizer step, as HF transformers' schedulers compute it (step is 0-based, the value used
// for the update of that step): linear warmup from 0 over warmup_steps, then constant, linear decay to 0 at
// total_steps (get_linear_schedule_with_warmup) or half-cosine to 0 (get_cosine_schedule_with_warmup, 0.5 cycles).
namespace OnnxLora.Training.Config;

public sealed class LrSchedule
{
    public LrSchedule(string kind, double peakLr, int warmupSteps, int totalSteps)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (!TrainConfig.Schedules.Contains(kind))
        {
            throw new ConfigException("schedule", $"schedule '{kind}' is unknown (expected {string.Join(", ", TrainConfig.Schedules)})");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        Kind = kind;
        PeakLr = peakLr;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
    }

    public string Kind { get; }

    public double PeakLr { get; }

    public int WarmupSteps { get; }

    public int TotalSteps { get; }

    public double At(int step) => PeakLr * Factor(step);

    private double Factor(int step)
    {
        if (step < WarmupSteps)
        {
            return (double)step / Math.Max(1, WarmupSteps);
        }
        if (Kind == "constant")
        {
            return 1.0;
        }
        double span = Math.Max(1, TotalSteps - WarmupSteps);
        if (Kind == "linear")
        {
            return Math.Max(0.0, (TotalSteps - step) / span);
        }
        double progress = (step - WarmupSteps) / span;
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * 2.0 * 0.5 * progress)));
    }
}
