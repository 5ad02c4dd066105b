// One claimed job run in process (JobRun on a SQLite store, no HTTP): a job resumed at its final checkpoint (its
// earlier run died before it could be marked succeeded) still ends with its last step's loss on the row, which a
// client polling GET /v1/jobs/{id} reads; and a store slow to take events never lets a live job's lease lapse.
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using OnnxLora.Training.Config;
using OnnxLora.Training.Run;
using OnnxLora.Worker.Execution;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Spec;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class JobRunTests : IDisposable
{
    /// <summary>What one event write costs on the slow store: far more than a fast job leaves between two events.</summary>
    private static readonly TimeSpan s_slowEventWrite = TimeSpan.FromMilliseconds(100);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private WorkerOptions Options(double leaseSeconds, double? heartbeatSeconds = null) => new()
    {
        DataDir = _dir.Path, ModelRoots = [TinyWorld.ModelRoot], DatasetRoots = [TinyWorld.DatasetRoot],
        LeaseSeconds = leaseSeconds, HeartbeatSeconds = heartbeatSeconds,
    };

    private static async Task<(string Id, JobSpec Spec)> SubmitAsync(IJobStore store, WorkerOptions options, int steps, int seed)
    {
        await store.InitializeAsync(default);
        var spec = JobSpecParser.Parse(TinyWorld.TrainSpec(steps, seed), options);
        var submitted = await store.SubmitAsync(new NewJob("a", spec.Kind, spec.ToJson(), MaxAttempts: 3), default);
        return (submitted.Job!.Id, spec);
    }

    [Fact]
    public async Task JobResumedAtItsFinalCheckpointSucceedsWithTheLossOfItsLastStep()
    {
        const int steps = 3, seed = 5;
        var options = Options(leaseSeconds: 60);
        await using var store = new SqliteJobStore(_dir["jobs.db"]);
        var (id, spec) = await SubmitAsync(store, options, steps, seed);

        // The earlier run: the whole training into the job's run folder, as its worker would have written it.
        var runDir = JobFolders.For(options, id).RunDir;
        var config = TrainConfigLoader.ParseJson(spec.Config!) with { Model = spec.Model, Data = spec.Dataset, Output = runDir };
        Assert.True(new Trainer(config, runDir).Run().Completed);
        double lastLoss = File.ReadLines(Path.Combine(runDir, Trainer.MetricsFile)).Select(l => JsonDocument.Parse(l).RootElement)
            .Last(r => r.TryGetProperty("loss", out _) && r.GetProperty("step").GetInt32() == steps).GetProperty("loss").GetDouble();

        var claimed = await store.ClaimAsync("w1", options.Lease, default);
        Assert.Equal(id, claimed!.Id);
        var outcome = await new JobRun(claimed, store, options, "w1", NullLogger.Instance).RunAsync(default);

        Assert.Equal(JobOutcome.Succeeded, outcome);
        var job = await store.GetAsync(null, id, default);
        Assert.Equal((JobStates.Succeeded, steps), (job!.State, job.Step));
        Assert.Equal(lastLoss, job.Loss);
        var events = await store.ReadEventsAsync(id, 0, 1000, default);
        Assert.DoesNotContain(events, e => e.Kind == "progress"); // the resumed run made no step of its own
        Assert.Contains(events, e => e.Kind == "log" && JsonDocument.Parse(e.Data).RootElement.GetProperty("message").GetString()!
            .StartsWith("resume:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LeaseHoldsWhileEventsBackUpOnASlowStore()
    {
        // A checkpoint every step: two events per step, written at most 10 per second one by one.
        const int steps = 60, seed = 6;
        var options = Options(leaseSeconds: 3, heartbeatSeconds: 0.3);
        await using var store = new SlowEventStore(new SqliteJobStore(_dir["jobs.db"]), s_slowEventWrite);
        var (id, _) = await SubmitAsync(store, options, steps, seed);

        var claimed = await store.ClaimAsync("w1", options.Lease, default);
        var outcome = await new JobRun(claimed!, store, options, "w1", NullLogger.Instance).RunAsync(default);

        Assert.Equal(JobOutcome.Succeeded, outcome);
        Assert.Equal(JobStates.Succeeded, (await store.GetAsync(null, id, default))!.State);
        Assert.Single(await store.ClaimsAsync(id, default)); // never handed back or expired
        var progress = (await store.ReadEventsAsync(id, 0, 10_000, default)).Where(e => e.Kind == "progress")
            .Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("step").GetInt32());
        Assert.Equal(Enumerable.Range(1, steps), progress); // every event written, in order, once
    }
}
