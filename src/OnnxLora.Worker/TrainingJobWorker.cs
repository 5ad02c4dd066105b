// The background service: claims jobs from the store while it has free slots (Concurrency, one job per
// device) and runs each as a JobRun. On shutdown (SIGTERM) every running job checkpoints at its next step
// and releases its lease before the host exits.
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxLora.Worker.Execution;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker;

public sealed class TrainingJobWorker(IJobStore store, IOptions<WorkerOptions> options, WorkerIdentity identity, ILogger<TrainingJobWorker> logger)
    : BackgroundService
{
    private static readonly TimeSpan s_errorBackoff = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        using var slots = new SemaphoreSlim(Math.Max(1, o.Concurrency));
        var running = new List<Task>();
        logger.LogInformation("Worker {WorkerId} started: {Concurrency} slot(s), lease {Lease}s", identity.Id, o.Concurrency, o.LeaseSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await slots.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            JobRecord? job;
            try
            {
                job = await store.ClaimAsync(identity.Id, o.Lease, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                slots.Release();
                break;
            }
            catch (Exception e)
            {
                slots.Release();
                logger.LogWarning(e, "Worker {WorkerId} claim failed", identity.Id);
                await DelayAsync(s_errorBackoff, stoppingToken);
                continue;
            }
            if (job is null)
            {
                slots.Release();
                await DelayAsync(TimeSpan.FromSeconds(o.PollSeconds), stoppingToken);
                continue;
            }
            logger.LogInformation("Job {JobId} claimed by {WorkerId} (attempt {Attempt} of {MaxAttempts})", job.Id, identity.Id, job.Attempts, job.MaxAttempts);
            running.RemoveAll(t => t.IsCompleted);
            running.Add(RunAsync(job, slots, stoppingToken));
        }
        await Task.WhenAll(running);
        logger.LogInformation("Worker {WorkerId} stopped", identity.Id);
    }

    private async Task RunAsync(JobRecord job, SemaphoreSlim slots, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Yield();
            await new JobRun(job, store, options.Value, identity.Id, logger).RunAsync(stoppingToken);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Job {JobId} could not be finished in the store", job.Id);
        }
        finally
        {
            slots.Release();
        }
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
