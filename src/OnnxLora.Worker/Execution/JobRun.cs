// One claimed job on this worker: runs it (the library's Trainer, then artifact export; or a noop) on its
// own thread, heartbeats the lease, keeps the row's progress (step, newest checkpoint) current, forwards
// progress and log lines as job events (server paths cut out), and stops at the next step with a checkpoint
// when the host stops or the owner cancels. Writes to the run folder are fenced by the lease: once it may lapse
// unrenewed (no heartbeat answered for 80% of it) the trainer stops before its next write and writes nothing more.
// It holds no training code: the trainer checkpoints and resumes by itself from the run folder.
using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using OnnxLora.Training.Config;
using OnnxLora.Training.Run;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Spec;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Execution;

public sealed class JobRun(JobRecord job, IJobStore store, WorkerOptions options, string workerId, ILogger logger)
{
    private static readonly TimeSpan s_eventFlush = TimeSpan.FromMilliseconds(200);

    /// <summary>Writes stop this share of the lease before it could lapse (counted from the last renewal request that succeeded).</summary>
    private const double FenceMargin = 0.2;

    /// <summary>Events written in one store transaction.</summary>
    private const int MaxEventBatch = 500;

    private readonly ConcurrentQueue<(string Kind, string Data)> _events = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly PathRedactor _redactor = new(options, JobFolders.For(options, job.Id));
    private volatile JobProgress? _progress;
    private JobProgress? _progressWritten;
    private volatile string? _stopReason;
    private long _leaseValidUntilTicks = DateTime.UtcNow.Ticks + options.Lease.Ticks; // claimed just before this run began

    public async Task<JobOutcome> RunAsync(CancellationToken stoppingToken)
    {
        using var onShutdown = stoppingToken.Register(() => Stop("shutdown"));
        using var done = new CancellationTokenSource();
        var beat = HeartbeatLoopAsync(done.Token);
        JobOutcome outcome;
        string? error = null;
        bool retryable = false;
        try
        {
            outcome = job.Kind == JobSpec.Noop
                ? await RunNoopAsync(stoppingToken)
                : await Task.Factory.StartNew(RunTrain, stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch (RunFencedException e)
        {
            // Nothing more was written. If the lease still holds (the renewal was only slow), hand the job back now
            // with its progress instead of letting the lease run out; the store refuses both if it has lapsed.
            outcome = JobOutcome.Released;
            logger.LogWarning("Job {JobId} stopped writing after step {Step}: its lease may have lapsed", job.Id, e.Step);
        }
        catch (Exception e)
        {
            outcome = JobOutcome.Failed;
            retryable = JobErrors.IsRetryable(e);
            error = _redactor.Redact($"{e.GetType().Name}: {e.Message}");
            logger.LogError(e, "Job {JobId} failed on attempt {Attempt} (retryable {Retryable})", job.Id, job.Attempts, retryable);
        }
        await done.CancelAsync();
        await beat;
        await FlushEventsAsync(DateTime.MaxValue, CancellationToken.None);
        // The store transitions below must reach the database even while the host is stopping.
        var ct = CancellationToken.None;
        if (_progress is { } last && outcome != JobOutcome.LeaseLost)
        {
            await store.UpdateProgressAsync(job.Id, workerId, last, ct); // final step, loss and checkpoint
        }
        switch (outcome)
        {
            case JobOutcome.Succeeded:
                if (!await store.CompleteAsync(job.Id, workerId, ct))
                {
                    outcome = JobOutcome.LeaseLost;
                }
                break;
            case JobOutcome.Released:
                await store.ReleaseAsync(job.Id, workerId, ct);
                break;
            case JobOutcome.Cancelled:
                await store.MarkCancelledAsync(job.Id, workerId, ct);
                break;
            case JobOutcome.Failed:
                await store.FailAsync(job.Id, workerId, error!, retryable, ct);
                break;
        }
        logger.LogInformation("Job {JobId} attempt {Attempt} ended: {Outcome}", job.Id, job.Attempts, outcome);
        return outcome;
    }

    private JobOutcome RunTrain()
    {
        var spec = JobSpec.FromJson(job.Spec);
        var folders = JobFolders.For(options, job.Id);
        var config = TrainConfigLoader.ParseJson(spec.Config ?? "{}");
        JobLimits.CheckDevice(config.Runtime.Device); // this build may lack it: fail once, no retry
        config = config with
        {
            Model = spec.Model,
            Data = spec.Dataset,
            Output = folders.RunDir,
            SaveEvery = config.SaveEvery > 0 ? config.SaveEvery : options.CheckpointEvery,
        };
        var trainer = new Trainer(config, folders.RunDir, new EventSink(this));
        var summary = trainer.Run(_stop.Token, MayWrite);
        if (!summary.Completed)
        {
            return StoppedOutcome();
        }
        if (!MayWrite())
        {
            throw new RunFencedException(summary.Steps);
        }
        Log($"training finished at step {summary.Steps}; exporting {string.Join(", ", spec.Outputs)}");
        var files = ArtifactExporter.Export(spec, folders, PathRoots.NameUnder(spec.Model!, options.EffectiveModelRoots));
        Log($"artifacts ready: {string.Join(", ", files.Keys)}");
        return JobOutcome.Succeeded;
    }

    private async Task<JobOutcome> RunNoopAsync(CancellationToken stoppingToken)
    {
        var spec = JobSpec.FromJson(job.Spec);
        if (spec.DurationMs > 0)
        {
            try
            {
                await Task.Delay(spec.DurationMs, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return StoppedOutcome();
            }
        }
        return stoppingToken.IsCancellationRequested ? JobOutcome.Released : JobOutcome.Succeeded;
    }

    private JobOutcome StoppedOutcome() => _stopReason switch
    {
        "cancel" => JobOutcome.Cancelled,
        "lost" => JobOutcome.LeaseLost,
        _ => JobOutcome.Released,
    };

    private void Stop(string reason)
    {
        _stopReason ??= reason;
        _stop.Cancel();
    }

    /// <summary>Whether the lease surely still holds: another worker cannot have claimed the job.</summary>
    private bool MayWrite() => DateTime.UtcNow.Ticks < Interlocked.Read(ref _leaseValidUntilTicks) - (long)(options.Lease.Ticks * FenceMargin);

    // Each tick renews the lease first (or writes the row's progress between renewals), then writes queued events in
    // batches until the next renewal is due. The lease never waits behind the events: a fast job makes events faster
    // than a loaded store takes them one by one, and a renewal stuck behind that backlog let a live, advancing job's
    // lease lapse (an attempt spent "without progress", since the row's progress waited too).
    private async Task HeartbeatLoopAsync(CancellationToken done)
    {
        var nextBeat = DateTime.UtcNow + options.Heartbeat;
        while (!done.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(s_eventFlush, done);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                if (DateTime.UtcNow < nextBeat)
                {
                    if (_progress is { } p && p != _progressWritten)
                    {
                        await store.UpdateProgressAsync(job.Id, workerId, p, done);
                        _progressWritten = p;
                    }
                }
                else
                {
                    nextBeat = DateTime.UtcNow + options.Heartbeat;
                    await BeatAsync(done);
                }
                await FlushEventsAsync(nextBeat, done);
            }
            catch (OperationCanceledException) when (done.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A store hiccup is not fatal: the lease outlives several heartbeat periods.
                logger.LogWarning(e, "Job {JobId} heartbeat failed", job.Id);
            }
        }
    }

    private async Task BeatAsync(CancellationToken done)
    {
        var progress = _progress;
        long sent = DateTime.UtcNow.Ticks; // the store sets the new expiry after this moment
        var status = await store.HeartbeatAsync(job.Id, workerId, options.Lease, progress, done);
        Interlocked.Exchange(ref _leaseValidUntilTicks, status == LeaseStatus.Lost ? 0 : sent + options.Lease.Ticks);
        if (status != LeaseStatus.Lost)
        {
            _progressWritten = progress;
        }
        if (status == LeaseStatus.CancelRequested)
        {
            Stop("cancel");
        }
        else if (status == LeaseStatus.Lost)
        {
            logger.LogWarning("Job {JobId} lease lost; stopping without publishing", job.Id);
            Stop("lost");
        }
    }

    /// <summary>Writes queued events in order, a batch per transaction, until none are left or <paramref name="until"/>.</summary>
    private async Task FlushEventsAsync(DateTime until, CancellationToken ct)
    {
        while (!_events.IsEmpty && DateTime.UtcNow < until)
        {
            var batch = _events.Take(MaxEventBatch).ToList(); // the oldest ones; this loop is their only consumer
            await store.AppendEventsAsync(job.Id, batch, ct);
            for (int i = 0; i < batch.Count; i++)
            {
                _events.TryDequeue(out _);
            }
        }
    }

    private void Log(string message)
    {
        logger.LogInformation("Job {JobId} {Message}", job.Id, message);
        _events.Enqueue(("log", JsonSerializer.Serialize(new { message = _redactor.Redact(message) })));
    }

    private void OnTrainEvent(TrainEvent e)
    {
        if (e.Kind == "resume")
        {
            // Where this run continues, with that step's loss: a run resumed at its last step makes no step of its
            // own, and the finished job must still show its loss.
            _progress = new JobProgress(e.Step, e.TotalSteps, e.Loss, null, CheckpointStep: e.Step);
        }
        if (e.Kind == "checkpoint")
        {
            // What a crash-resume would continue from: its advance since the claim is the job's progress.
            _progress = (_progress ?? new JobProgress(e.Step, e.TotalSteps, null, null)) with { CheckpointStep = e.Step };
        }
        if (e.Kind == "step")
        {
            double? eta = e.Eta?.TotalSeconds;
            _progress = new JobProgress(e.Step, e.TotalSteps, e.Loss, eta, _progress?.CheckpointStep ?? 0);
            logger.LogInformation("Job {JobId} step {Step} loss {Loss}", job.Id, e.Step, e.Loss);
            _events.Enqueue(("progress", JsonSerializer.Serialize(new
            {
                step = e.Step, total_steps = e.TotalSteps, loss = e.Loss, lr = e.LearningRate, eta_seconds = eta,
                worker = workerId, at_ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            })));
            return;
        }
        Log(e.Message is null ? $"{e.Kind} at step {e.Step}" : $"{e.Kind}: {e.Message}");
    }

    private sealed class EventSink(JobRun run) : IProgress<TrainEvent>
    {
        public void Report(TrainEvent value) => run.OnTrainEvent(value);
    }
}
