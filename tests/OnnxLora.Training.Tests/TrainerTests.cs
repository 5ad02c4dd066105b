// The training run end to end on the fixture base: exact resume (N steps in one go equals k steps,
// interrupt, resume, N−k steps, bit for bit on CPU), one metrics row per step after a crash (before the
// first checkpoint, or after the last), a write guard that stops the run cold, all three data layouts, a NaN
// stop that keeps the last good checkpoint, and runtime options that reach the sessions and the run folder.
using System.Text.Json;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;

namespace OnnxLora.Training.Tests;

public sealed class TrainerTests
{
    private const int Steps = 6;

    private static TrainConfig Config(string data, string output, int saveEvery = 2) => new()
    {
        Model = Fixture.Base,
        Data = data,
        Output = output,
        MaxSteps = Steps,
        BatchSize = 2,
        MaxSeqLen = 64,
        Lr = 1e-3,
        SaveEvery = saveEvery,
        Seed = 3,
        Lora = new LoraConfig { R = 4, Alpha = 8 },
    };

    private static string PirateSubset(TempDir dir, int lines = 24)
    {
        var path = dir["pirate.jsonl"];
        File.WriteAllLines(path, EmbeddedDatasets.Pirate().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(lines));
        return path;
    }

    [Fact]
    public void ResumedRunIsBitIdenticalToAnUninterruptedOne()
    {
        using var dir = new TempDir();
        var data = PirateSubset(dir);
        var straight = new Trainer(Config(data, dir["a"]), dir["a"]).Run();
        Assert.True(straight.Completed);

        // Interrupt after step 2, resume, interrupt after step 4, resume to the end.
        foreach (int stopAt in new[] { 2, 4 })
        {
            using var cts = new CancellationTokenSource();
            var progress = new SyncProgress(e =>
            {
                if (e.Kind == "step" && e.Step == stopAt)
                {
                    cts.Cancel();
                }
            });
            var t = stopAt == 2 ? new Trainer(Config(data, dir["b"]), dir["b"], progress) : Trainer.Resume(dir["b"], progress);
            var partial = t.Run(cts.Token);
            Assert.False(partial.Completed);
            Assert.Equal(stopAt, partial.Steps);
        }
        var resumed = Trainer.Resume(dir["b"]).Run();
        Assert.True(resumed.Completed);

        var a = Losses(dir["a"]);
        var b = Losses(dir["b"]);
        Assert.Equal(Steps, a.Count);
        Assert.Equal(a, b); // exact float equality, step by step
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["a"], "adapter", "adapter_model.safetensors")),
            File.ReadAllBytes(Path.Combine(dir["b"], "adapter", "adapter_model.safetensors")));
    }

    [Fact]
    public void RunRestartedAfterACrashBeforeItsFirstCheckpointHasOneMetricsRowPerStep()
    {
        using var dir = new TempDir();
        var c = Config(PirateSubset(dir), dir["run"], saveEvery: 0) with { ValSplit = 0.25 };
        Assert.True(new Trainer(c, dir["run"]).Run().Completed);
        var first = Losses(dir["run"]);
        // What a SIGKILL before the first checkpoint leaves: config, artifacts and metrics rows, no checkpoint.
        Directory.Delete(Path.Combine(dir["run"], Checkpoint.Folder), recursive: true);
        Directory.Delete(Path.Combine(dir["run"], Trainer.AdapterFolder), recursive: true);

        Assert.True(new Trainer(c, dir["run"]).Run().Completed);
        Assert.Equal(Enumerable.Range(1, Steps), Rows(dir["run"], "loss"));
        Assert.Equal([0, Steps], Rows(dir["run"], "eval_loss"));
        Assert.Equal(first, Losses(dir["run"]));
    }

    [Fact]
    public void RunResumedFromItsFinalCheckpointWritesTheFinalEvalOnce()
    {
        using var dir = new TempDir();
        var c = Config(PirateSubset(dir), dir["run"]) with { ValSplit = 0.25 };
        Assert.True(new Trainer(c, dir["run"]).Run().Completed);
        // Killed after the final checkpoint and eval, before the adapter was written.
        Directory.Delete(Path.Combine(dir["run"], Trainer.AdapterFolder), recursive: true);

        Assert.True(Trainer.Resume(dir["run"]).Run().Completed);
        Assert.Equal(Enumerable.Range(1, Steps), Rows(dir["run"], "loss"));
        Assert.Equal([0, Steps], Rows(dir["run"], "eval_loss"));
    }

    [Fact]
    public void RunResumedFromItsFinalCheckpointReportsTheLossOfItsLastStep()
    {
        using var dir = new TempDir();
        var first = new Trainer(Config(PirateSubset(dir), dir["run"]), dir["run"]).Run();
        Assert.True(first.Completed);
        // Killed after the final checkpoint, before the adapter was written: the resumed run makes no step of its own.
        Directory.Delete(Path.Combine(dir["run"], Trainer.AdapterFolder), recursive: true);

        var events = new List<TrainEvent>();
        var resumed = Trainer.Resume(dir["run"], new SyncProgress(events.Add)).Run();
        Assert.True(resumed.Completed);
        Assert.DoesNotContain(events, e => e.Kind == "step");
        var resume = Assert.Single(events, e => e.Kind == "resume");
        Assert.Equal((Steps, first.FinalTrainLoss), (resume.Step, resume.Loss));
        Assert.Equal(first.FinalTrainLoss, resumed.FinalTrainLoss);
        Assert.NotNull(resumed.FinalTrainLoss);
    }

    [Fact]
    public void WriteGuardThatTurnsFalseStopsTheRunBeforeItsNextWrite()
    {
        using var dir = new TempDir();
        bool allowed = true;
        var progress = new SyncProgress(e => allowed &= !(e.Kind == "step" && e.Step == 3)); // a worker's lease lapses after step 3
        var e = Assert.Throws<RunFencedException>(() => new Trainer(Config(PirateSubset(dir), dir["run"]), dir["run"], progress).Run(mayWrite: () => allowed));
        Assert.Equal(3, e.Step);
        Assert.Equal([1, 2, 3], Rows(dir["run"], "loss"));
        Assert.Equal([Checkpoint.PathFor(dir["run"], 2)], Checkpoint.List(dir["run"])); // no checkpoint on the way out
        Assert.False(Directory.Exists(Path.Combine(dir["run"], Trainer.AdapterFolder)));
    }

    [Theory]
    [InlineData("""{"text": "Arr, the sea be calm today, matey."}""")]
    [InlineData("""{"prompt": "Where be the treasure?\n", "completion": "Under the old palm, ye scallywag."}""")]
    [InlineData("""{"messages": [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Ahoy there!"}]}""")]
    public void TrainsOnEachDataLayout(string line)
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["d.jsonl"], Enumerable.Repeat(line, 4));
        var c = Config(dir["d.jsonl"], dir["run"]) with { MaxSteps = 2, ChatTemplate = "chatml" };
        var s = new Trainer(c, dir["run"]).Run();
        Assert.True(s.Completed);
        Assert.True(s.FinalTrainLoss is > 0 and < 20);
        Assert.True(File.Exists(Path.Combine(dir["run"], "loss.png")));
    }

    [Fact]
    public void EmptyExamplesAreDroppedAndCountedInTheSummary()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["d.jsonl"], [.. Enumerable.Repeat("""{"text": "Arr, the sea be calm today."}""", 4), """{"text": ""}""", """{"text": "   "}"""]);
        var s = new Trainer(Config(dir["d.jsonl"], dir["run"]) with { MaxSteps = 1 }, dir["run"]).Run();
        Assert.Equal(2, s.EmptyExamples);
        Assert.Equal(0, s.NoCountedTokenExamples);
    }

    [Fact]
    public void DatasetOfEmptyTextsIsRejectedBeforeTraining()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["d.jsonl"], Enumerable.Repeat("""{"text": ""}""", 3));
        var e = Assert.Throws<InvalidDataException>(() => new Trainer(Config(dir["d.jsonl"], dir["run"]), dir["run"]).Run());
        Assert.Equal($"{dir["d.jsonl"]}: no usable example among 3: 3 empty, 0 with no counted token (max_seq_len too short?)", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir["run"], "artifacts")));
    }

    [Fact]
    public void NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint()
    {
        using var dir = new TempDir();
        var data = PirateSubset(dir);
        var c = Config(data, dir["run"], saveEvery: 1) with { Lr = 1e30, MaxGradNorm = 0, MaxSteps = 50 };
        var e = Assert.Throws<NonFiniteLossException>(() => new Trainer(c, dir["run"]).Run());
        Assert.Contains("non-finite loss", e.Message);
        var last = Checkpoint.List(dir["run"]).Last();
        var ck = Checkpoint.Load(last);
        Assert.All(ck.Parameters.Values, p => Assert.All(p, v => Assert.True(float.IsFinite(v))));
        Assert.False(Directory.Exists(Path.Combine(dir["run"], "adapter")));
    }

    [Fact]
    public void RuntimeOptionsReachEverySessionAndAreRecordedInConfigJson()
    {
        using var dir = new TempDir();
        var data = PirateSubset(dir, lines: 8);
        var profile = Path.Combine(dir["prof"], "p");
        Directory.CreateDirectory(dir["prof"]);
        var runtime = new RuntimeOptions { Threads = 1, CpuArena = false, ProfilePrefix = profile };
        var c = Config(data, dir["run"]) with { MaxSteps = 2, ValSplit = 0.25, Runtime = runtime };
        Assert.True(new Trainer(c, dir["run"]).Run().Completed);

        // each session the run opened wrote its ORT profile under the configured prefix
        var profiles = Directory.GetFiles(dir["prof"]).Select(Path.GetFileName).ToList();
        foreach (var model in new[] { "training_model", "optimizer_model", "accumulate_model", "eval_model" })
        {
            Assert.Contains(profiles, f => f!.StartsWith($"p_{model}_", StringComparison.Ordinal) && f.EndsWith(".json", StringComparison.Ordinal));
        }
        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], Trainer.ConfigFile)));
        var r = saved.RootElement.GetProperty("runtime");
        Assert.Equal("cpu", r.GetProperty("device").GetString());
        Assert.Equal(1, r.GetProperty("threads").GetInt32());
        Assert.False(r.GetProperty("cpu_arena").GetBoolean());
        Assert.False(r.GetProperty("tf32").GetBoolean());
        Assert.Equal(profile, r.GetProperty("profile_prefix").GetString());
        Assert.False(saved.RootElement.TryGetProperty("device", out _));
        Assert.Equal(runtime.Threads, TrainConfigLoader.Load(Path.Combine(dir["run"], Trainer.ConfigFile)).Runtime.Threads);
    }

    private static List<double> Losses(string runDir) => File.ReadLines(Path.Combine(runDir, "metrics.jsonl"))
        .Select(l => JsonDocument.Parse(l).RootElement)
        .Where(r => r.TryGetProperty("loss", out _))
        .Select(r => r.GetProperty("loss").GetDouble()).ToList();

    /// <summary>The step of every metrics row that has <paramref name="key"/>, in file order.</summary>
    private static List<int> Rows(string runDir, string key) => File.ReadLines(Path.Combine(runDir, "metrics.jsonl"))
        .Select(l => JsonDocument.Parse(l).RootElement)
        .Where(r => r.TryGetProperty(key, out _))
        .Select(r => r.GetProperty("step").GetInt32()).ToList();

    private sealed class SyncProgress(Action<TrainEvent> a) : IProgress<TrainEvent>
    {
        public void Report(TrainEvent value) => a(value);
    }
}
