// TrainReporter with redirected output (pipes, CI): the first step, then at most one step line per interval,
// the last step, and every eval/checkpoint line; driven by a hand-set clock, so no test waits. On a terminal
// every step redraws the live bar (one line in the end), which needs a console and is not exercised here.
using OnnxLora.Cli.Commands;
using OnnxLora.Training.Run;

namespace OnnxLora.Cli.Tests;

public sealed class TrainReporterTests
{
    [Fact]
    public void RedirectedOutputPrintsFirstLastEveryIntervalAndEveryEval()
    {
        var clock = new ManualClock();
        var output = new StringWriter();
        var reporter = new TrainReporter(output, live: false, TimeSpan.FromSeconds(10), clock);
        const int total = 1000;
        for (int step = 1; step <= total; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100)); // 100 s in all: 10 intervals
            reporter.Report(new TrainEvent("step", step, total, Loss: 2.0, LearningRate: 1e-3, TokensPerSecond: 500, Eta: TimeSpan.Zero));
            if (step % 250 == 0 && step < total)
            {
                reporter.Report(new TrainEvent("eval", step, total, Loss: 1.5));
            }
        }
        reporter.Finish();

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var steps = lines.Where(l => l.Contains(" step ", StringComparison.Ordinal) && !l.StartsWith('[')).ToList();
        Assert.Contains("step 1/1000 ", steps[0], StringComparison.Ordinal);
        Assert.Contains("step 1000/1000 ", steps[^1], StringComparison.Ordinal);
        Assert.Equal(1 + 9 + 1, steps.Count); // step 1; 101, 201, … 901 (10 s apart); 1000, the last
        Assert.Equal(3, lines.Count(l => l.StartsWith("[eval] step ", StringComparison.Ordinal)));
        Assert.Equal(steps.Count + 3, lines.Length);
    }

    [Fact]
    public void RedirectedOutputPrintsEveryStepWhenStepsAreSlowerThanTheInterval()
    {
        var clock = new ManualClock();
        var output = new StringWriter();
        var reporter = new TrainReporter(output, live: false, TimeSpan.FromSeconds(10), clock);
        for (int step = 1; step <= 5; step++)
        {
            clock.Advance(TimeSpan.FromSeconds(11));
            reporter.Report(new TrainEvent("step", step, 5, Loss: 2.0, LearningRate: 1e-3, TokensPerSecond: 5, Eta: TimeSpan.Zero));
        }
        Assert.Equal(5, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
