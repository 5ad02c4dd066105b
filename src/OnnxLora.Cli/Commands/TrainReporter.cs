// Renders training events: a one-line live bar on a terminal; when output is redirected (CI, pipes,
// the worker's logs) a plain line for the first step, then at most one every RedirectedInterval (as tqdm
// does for non-TTY output), the last step, and every eval/checkpoint/resume line. It holds no training logic.
using System.Globalization;
using OnnxLora.Training.Run;

namespace OnnxLora.Cli.Commands;

internal sealed class TrainReporter : IProgress<TrainEvent>
{
    /// <summary>Least time between two step lines when output is redirected (tqdm's non-TTY default is 10 s too).</summary>
    public static readonly TimeSpan RedirectedInterval = TimeSpan.FromSeconds(10);

    private readonly TextWriter _out;
    private readonly bool _live;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private long? _lastStepLine;
    private bool _lineOpen;

    public TrainReporter()
        : this(Console.Out, live: !Console.IsOutputRedirected, RedirectedInterval, TimeProvider.System)
    {
    }

    public TrainReporter(TextWriter output, bool live, TimeSpan interval, TimeProvider time)
    {
        _out = output;
        _live = live;
        _interval = interval;
        _time = time;
    }

    public void Report(TrainEvent e)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (e.Kind)
        {
            case "step":
                if (!_live && !DueForLine(e))
                {
                    return;
                }
                double pct = 100.0 * e.Step / Math.Max(1, e.TotalSteps);
                string bar = new string('█', (int)(pct / 5)).PadRight(20, '░');
                string line = string.Create(inv,
                    $"{bar} step {e.Step}/{e.TotalSteps}  loss {e.Loss:F4}  lr {e.LearningRate:E2}  {e.TokensPerSecond:F0} tok/s  eta {e.Eta:hh\\:mm\\:ss}");
                if (_live)
                {
                    _out.Write("\r" + line.PadRight(Math.Max(0, Console.WindowWidth - 1 > 0 ? Console.WindowWidth - 1 : 100)));
                    _lineOpen = true;
                }
                else
                {
                    _out.WriteLine(line);
                }
                break;
            default:
                Finish();
                _out.WriteLine(string.Create(inv, $"[{e.Kind}] step {e.Step}{(e.Loss is { } l ? $"  loss {l:F4} ppl {Math.Exp(l):F2}" : "")}{(e.Message is { } m ? "  " + m : "")}"));
                break;
        }
    }

    /// <summary>Redirected output: the first step line, the last one, and otherwise one per interval.</summary>
    private bool DueForLine(TrainEvent e)
    {
        long now = _time.GetTimestamp();
        bool due = _lastStepLine is not { } last || e.Step >= e.TotalSteps || _time.GetElapsedTime(last, now) >= _interval;
        if (due)
        {
            _lastStepLine = now;
        }
        return due;
    }

    public void Finish()
    {
        if (_lineOpen)
        {
            _out.WriteLine();
            _lineOpen = false;
        }
    }

    public static void PrintSummary(TrainSummary s)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"trainable parameters: {Mega(s.TrainableParameters)} of {Mega(s.TotalParameters)} ({100.0 * s.TrainableParameters / Math.Max(1, s.TotalParameters):F2}%)"));
        if (s.AdapterBytes > 0)
        {
            Console.WriteLine(string.Create(inv, $"adapter {s.AdapterBytes / 1e6:F2} MB vs model {s.BaseModelBytes / 1e6:F1} MB ({(double)s.BaseModelBytes / s.AdapterBytes:F0}×)"));
        }
        if (s.EvalLossBefore is { } b)
        {
            Console.WriteLine(string.Create(inv, $"eval loss before {b:F4} (ppl {Math.Exp(b):F2})"));
        }
        if (s.EvalLossAfter is { } a)
        {
            Console.WriteLine(string.Create(inv, $"eval loss after  {a:F4} (ppl {Math.Exp(a):F2})"));
        }
        if (s.EmptyExamples + s.NoCountedTokenExamples > 0)
        {
            Console.WriteLine($"dropped {s.EmptyExamples} empty examples and {s.NoCountedTokenExamples} with no counted token");
        }
        if (s.TruncatedExamples > 0)
        {
            Console.WriteLine($"{s.TruncatedExamples} examples were truncated to max_seq_len");
        }
        Console.WriteLine(string.Create(inv, $"{s.Steps} steps, {s.TokensPerSecond:F0} tokens/s, peak RSS {s.PeakRssBytes / 1048576.0:F0} MiB"));
        Console.WriteLine($"run folder: {s.RunDir}");
        if (s.Completed)
        {
            Console.WriteLine(s.AdapterBytes > 0 ? $"adapter: {s.AdapterDir}" : $"fine-tuned model: {Path.Combine(s.RunDir, Trainer.FullModelFolder)}");
        }
    }

    private static string Mega(long n) => n >= 1_000_000 ? (n / 1e6).ToString("F2", CultureInfo.InvariantCulture) + " M" : n.ToString(CultureInfo.InvariantCulture);
}
