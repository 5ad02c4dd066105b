// One behaviour suite for every job store; SqliteJobStoreTests and PostgresJobStoreTests run it against a
// real database each. Leases are short here so expiry is observable in milliseconds. Covered: tenancy,
// idempotency and quota, exclusive claims, lease expiry settled as crash-resume (progress) or spent attempt
// (none) with a closed claim and a state event, retries, release, cancel (409 for finished jobs upstream).
using System.Collections.Concurrent;
using System.Text.Json;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public abstract class JobStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan s_long = TimeSpan.FromMinutes(5);
    // Long enough that a claim and the competing claim right after it cannot straddle the expiry on a
    // busy 2-core CI machine (300 ms did once: the second claimer got the job).
    private static readonly TimeSpan s_short = TimeSpan.FromMilliseconds(1500);
    private const string Spec = """{"kind":"noop"}""";

    private IJobStore? _store;

    /// <summary>A fresh, empty store, or null when its server is unavailable outside CI.</summary>
    protected abstract IJobStore? CreateStore();

    /// <summary>Why <see cref="CreateStore"/> gave null (the test is then reported as skipped).</summary>
    protected virtual string SkipReason => "store unavailable";

    private IJobStore Store()
    {
        Skip.If(_store is null, SkipReason);
        return _store!;
    }

    public async Task InitializeAsync()
    {
        _store = CreateStore();
        if (_store is not null)
        {
            await _store.InitializeAsync(CancellationToken.None);
            await _store.InitializeAsync(CancellationToken.None); // idempotent
        }
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    private static Task<SubmitResult> Submit(IJobStore s, string tenant = "a", int maxAttempts = 3, string? key = null,
        int maxResumes = 10, int quota = 0) =>
        s.SubmitAsync(new NewJob(tenant, "noop", Spec, maxAttempts, key, maxResumes, quota), CancellationToken.None);

    private static async Task<string> SubmitId(IJobStore s, int maxAttempts = 3, int maxResumes = 10) =>
        (await Submit(s, maxAttempts: maxAttempts, maxResumes: maxResumes)).Job!.Id;

    private static async Task<JsonElement> LastStateEvent(IJobStore s, string id) =>
        JsonDocument.Parse((await s.ReadEventsAsync(id, 0, 1000, default)).Last(e => e.Kind == "state").Data).RootElement.Clone();

    [SkippableFact]
    public async Task SubmittedJobIsQueuedAndVisibleOnlyToItsTenant()
    {
        var s = Store();
        var r = await Submit(s);
        Assert.True(r.Created);
        Assert.Equal(JobStates.Queued, r.Job!.State);
        Assert.NotNull(await s.GetAsync("a", r.Job!.Id, default));
        Assert.Null(await s.GetAsync("b", r.Job!.Id, default));
        Assert.Null(await s.RequestCancelAsync("b", r.Job!.Id, default));
        Assert.Empty(await s.ListAsync("b", null, 10, default));
    }

    [SkippableFact]
    public async Task IdempotencyKeyReturnsTheFirstJob()
    {
        var s = Store();
        var first = await Submit(s, key: "k1");
        var again = await Submit(s, key: "k1");
        var otherTenant = await Submit(s, tenant: "b", key: "k1");
        Assert.False(again.Created);
        Assert.Equal(first.Job!.Id, again.Job!.Id);
        Assert.True(otherTenant.Created);
        Assert.Single(await s.ListAsync("a", null, 10, default));
    }

    [SkippableFact]
    public async Task ConcurrentClaimersTakeEachJobExactlyOnce()
    {
        var s = Store();
        const int jobs = 30, claimers = 6;
        for (int i = 0; i < jobs; i++)
        {
            await Submit(s);
        }
        var taken = new ConcurrentBag<string>();
        await Task.WhenAll(Enumerable.Range(0, claimers).Select(w => Task.Run(async () =>
        {
            while (await s.ClaimAsync($"w{w}", s_long, default) is { } job)
            {
                taken.Add(job.Id);
            }
        })));
        Assert.Equal(jobs, taken.Count);
        Assert.Equal(jobs, taken.Distinct().Count());
        Assert.Equal(jobs, (await s.ClaimsAsync(null, default)).Count);
    }

    [SkippableFact]
    public async Task ExpiredLeaseMakesTheJobClaimableAgainAndFencesTheOldOwner()
    {
        var s = Store();
        var id = (await Submit(s)).Job!.Id;
        Assert.Equal(id, (await s.ClaimAsync("w1", s_short, default))!.Id);
        Assert.Null(await s.ClaimAsync("w2", s_short, default));
        Assert.Equal(LeaseStatus.Held, await s.HeartbeatAsync(id, "w1", s_short, new JobProgress(3, 10, 1.5, 7), default));
        var running = await s.GetAsync("a", id, default);
        Assert.Equal((3, 10, 1.5), (running!.Step, running.TotalSteps, running.Loss!.Value));

        await Task.Delay(s_short * 2);
        var again = await s.ClaimAsync("w2", s_long, default);
        Assert.Equal(id, again!.Id);
        // w1 ran 3 steps before its lease ran out: a crash-resume (the attempt refunded), not a spent attempt; the
        // new claim resumes at the checkpoint (none: step 0)
        Assert.Equal((1, 1, 0), (again.Attempts, again.CrashResumes, again.Step));
        Assert.Equal(LeaseStatus.Lost, await s.HeartbeatAsync(id, "w1", s_short, null, default));
        Assert.False(await s.CompleteAsync(id, "w1", default));
        Assert.True(await s.CompleteAsync(id, "w2", default));
        Assert.Equal(JobStates.Succeeded, (await s.GetAsync("a", id, default))!.State);

        var claims = await s.ClaimsAsync(id, default);
        Assert.Equal(["w1", "w2"], claims.Select(c => c.Worker));
        Assert.True(claims[1].ClaimedMs >= claims[0].LeaseUntilMs, "second claim began before the first lease ran out");
        Assert.Equal("succeeded", claims[1].Outcome);
    }

    [SkippableFact]
    public async Task AJobHandedBackOrFailingAfterACancelRequestEndsCancelledNotQueued()
    {
        var s = Store();
        var released = (await Submit(s)).Job!.Id;
        Assert.NotNull(await s.ClaimAsync("w1", s_long, default));
        Assert.True((await s.RequestCancelAsync("a", released, default))!.Accepted);
        Assert.True(await s.ReleaseAsync(released, "w1", default)); // e.g. a fenced run handing the job back
        Assert.Equal(JobStates.Cancelled, (await s.GetAsync("a", released, default))!.State);

        var failed = (await Submit(s)).Job!.Id;
        Assert.NotNull(await s.ClaimAsync("w1", s_long, default));
        Assert.True((await s.RequestCancelAsync("a", failed, default))!.Accepted);
        Assert.True(await s.FailAsync(failed, "w1", "IOException: disk", retryable: true, default));
        Assert.Equal(JobStates.Cancelled, (await s.GetAsync("a", failed, default))!.State);
    }

    [SkippableFact]
    public async Task ExhaustedAttemptsFailTheJobWithTheReason()
    {
        var s = Store();
        var id = (await Submit(s, maxAttempts: 2)).Job!.Id;
        Assert.NotNull(await s.ClaimAsync("w1", s_short, default));
        await Task.Delay(s_short * 2);
        Assert.NotNull(await s.ClaimAsync("w2", s_short, default));
        await Task.Delay(s_short * 2);
        Assert.Null(await s.ClaimAsync("w3", s_short, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal(JobStates.Failed, job!.State);
        Assert.Contains("attempt 2 of 2", job.Error);
        Assert.Equal(0, job.CrashResumes);
        Assert.Equal("failed", (await LastStateEvent(s, id)).GetProperty("state").GetString());
        var claims = await s.ClaimsAsync(id, default);
        Assert.Equal(["expired-retry", "expired-failed"], claims.Select(c => c.Outcome));
        Assert.All(claims, c => Assert.NotNull(c.EndedMs));
    }

    [SkippableFact]
    public async Task ExpiredLeaseAfterProgressIsACrashResumeThatSpendsNoAttempt()
    {
        var s = Store();
        var id = await SubmitId(s, maxAttempts: 1);
        for (int claim = 1; claim <= 3; claim++)
        {
            var job = await s.ClaimAsync($"w{claim}", s_short, default);
            Assert.Equal((id, 1, claim - 1), (job!.Id, job.Attempts, job.CrashResumes));
            Assert.True(await s.UpdateProgressAsync(id, $"w{claim}", new JobProgress(claim * 10 + 3, 100, 1.0, null, claim * 10), default));
            await Task.Delay(s_short * 2); // the worker was killed: no heartbeat
        }
        Assert.NotNull(await s.ClaimAsync("w4", s_long, default));
        var row = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Running, 1, 3, 30), (row!.State, row.Attempts, row.CrashResumes, row.CheckpointStep));
        var claims = await s.ClaimsAsync(id, default);
        Assert.Equal(["expired-resume", "expired-resume", "expired-resume", null], claims.Select(c => c.Outcome));
        var settled = (await s.ReadEventsAsync(id, 0, 1000, default)).Where(e => e.Kind == "state" && e.Data.Contains("crash-resume")).ToList();
        Assert.Equal(3, settled.Count);
        Assert.Contains("crash-resume 3 of 10", settled[^1].Data);
    }

    [SkippableFact]
    public async Task CrashResumesHaveTheirOwnCap()
    {
        var s = Store();
        var id = await SubmitId(s, maxAttempts: 5, maxResumes: 1);
        for (int claim = 1; claim <= 2; claim++)
        {
            Assert.NotNull(await s.ClaimAsync($"w{claim}", s_short, default));
            await s.UpdateProgressAsync(id, $"w{claim}", new JobProgress(claim * 5, 100, 1.0, null, claim * 5), default);
            await Task.Delay(s_short * 2);
        }
        Assert.Null(await s.ClaimAsync("w3", s_short, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Failed, 10, 10), (job!.State, job.Step, job.CheckpointStep));
        Assert.Contains("cap", job.Error);
        var last = await LastStateEvent(s, id);
        Assert.Equal(("failed", 10), (last.GetProperty("state").GetString(), last.GetProperty("step").GetInt32()));
    }

    [SkippableFact]
    public async Task ExpiredLeaseOfACancelRequestedJobEndsItCancelledWithAnEvent()
    {
        var s = Store();
        var id = await SubmitId(s);
        await s.ClaimAsync("w1", s_short, default);
        Assert.True((await s.RequestCancelAsync("a", id, default))!.Accepted);
        await Task.Delay(s_short * 2);
        Assert.Null(await s.ClaimAsync("w2", s_short, default));
        Assert.Equal(JobStates.Cancelled, (await s.GetAsync("a", id, default))!.State);
        Assert.Equal("cancelled", (await LastStateEvent(s, id)).GetProperty("state").GetString());
        Assert.Equal("expired-cancelled", (await s.ClaimsAsync(id, default)).Single().Outcome);
    }

    [SkippableFact]
    public async Task RetryableFailureAfterProgressSpendsNoAttempt()
    {
        var s = Store();
        var id = await SubmitId(s, maxAttempts: 1);
        await s.ClaimAsync("w1", s_long, default);
        await s.UpdateProgressAsync(id, "w1", new JobProgress(4, 10, 1.0, null, 4), default);
        Assert.True(await s.FailAsync(id, "w1", "disk hiccup", retryable: true, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Queued, 0, 1), (job!.State, job.Attempts, job.CrashResumes));
        Assert.Equal("queued", (await LastStateEvent(s, id)).GetProperty("state").GetString());
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.FailAsync(id, "w1", "disk hiccup again", retryable: true, default)); // no progress this time
        Assert.Equal(JobStates.Failed, (await s.GetAsync("a", id, default))!.State);
        Assert.Equal("failed", (await LastStateEvent(s, id)).GetProperty("state").GetString());
    }

    [SkippableFact]
    public async Task ProgressIsWrittenOnlyByTheLeaseHolder()
    {
        var s = Store();
        var id = await SubmitId(s);
        await s.ClaimAsync("w1", s_long, default);
        Assert.False(await s.UpdateProgressAsync(id, "w2", new JobProgress(9, 10, 1.0, null, 9), default));
        Assert.True(await s.UpdateProgressAsync(id, "w1", new JobProgress(7, 10, 1.0, null, 6), default));
        Assert.True(await s.UpdateProgressAsync(id, "w1", new JobProgress(8, 10, 1.0, null, 2), default)); // a late, older checkpoint
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((8, 6), (job!.Step, job.CheckpointStep));
    }

    [SkippableFact]
    public async Task TenantQuotaRefusesNewJobsButNotReplaysOrOtherTenants()
    {
        var s = Store();
        Assert.True((await Submit(s, key: "k1", quota: 2)).Created);
        Assert.True((await Submit(s, quota: 2)).Created);
        var refused = await Submit(s, quota: 2);
        Assert.True(refused.QuotaExceeded);
        Assert.Equal(2, refused.ActiveJobs);
        Assert.False((await Submit(s, key: "k1", quota: 2)).QuotaExceeded); // the replay returns the first job
        Assert.True((await Submit(s, tenant: "b", quota: 2)).Created);
        var first = (await s.ListAsync("a", null, 10, default))[0];
        await s.RequestCancelAsync("a", first.Id, default);
        Assert.True((await Submit(s, quota: 2)).Created); // a finished job frees its place
    }

    [SkippableFact]
    public async Task ConcurrentSubmitsNeverExceedTheQuota()
    {
        var s = Store();
        const int quota = 5;
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => Submit(s, quota: quota))));
        Assert.Equal(quota, results.Count(r => r.Created));
        Assert.Equal(quota, (await s.ListAsync("a", null, 100, default)).Count);
    }

    [SkippableFact]
    public async Task CancelOfAFinishedJobIsNotAccepted()
    {
        var s = Store();
        var id = await SubmitId(s);
        await s.ClaimAsync("w1", s_long, default);
        await s.CompleteAsync(id, "w1", default);
        var r = await s.RequestCancelAsync("a", id, default);
        Assert.False(r!.Accepted);
        Assert.Equal(JobStates.Succeeded, r.Job.State);
    }

    [SkippableFact]
    public async Task RetryableFailureRequeuesUntilAttemptsRunOut()
    {
        var s = Store();
        var id = (await Submit(s, maxAttempts: 2)).Job!.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.FailAsync(id, "w1", "io hiccup", retryable: true, default));
        Assert.Equal(JobStates.Queued, (await s.GetAsync("a", id, default))!.State);
        Assert.Equal("queued", (await LastStateEvent(s, id)).GetProperty("state").GetString());
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.FailAsync(id, "w1", "io hiccup again", retryable: true, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Failed, "io hiccup again"), (job!.State, job.Error));
    }

    [SkippableFact]
    public async Task ReleaseRequeuesWithoutSpendingAnAttempt()
    {
        var s = Store();
        var id = (await Submit(s, maxAttempts: 1)).Job!.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.ReleaseAsync(id, "w1", default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Queued, 0, (string?)null), (job!.State, job.Attempts, job.LeaseOwner));
        Assert.Equal(id, (await s.ClaimAsync("w2", s_long, default))!.Id);
    }

    [SkippableFact]
    public async Task CancelEndsAQueuedJobAndFlagsARunningOne()
    {
        var s = Store();
        var queued = (await Submit(s)).Job!.Id;
        Assert.Equal(JobStates.Cancelled, (await s.RequestCancelAsync("a", queued, default))!.Job.State);
        Assert.Equal("cancelled", (await LastStateEvent(s, queued)).GetProperty("state").GetString());
        var running = (await Submit(s)).Job!.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True((await s.RequestCancelAsync("a", running, default))!.Job.CancelRequested);
        Assert.Equal(LeaseStatus.CancelRequested, await s.HeartbeatAsync(running, "w1", s_long, null, default));
        Assert.True(await s.MarkCancelledAsync(running, "w1", default));
        Assert.Equal(JobStates.Cancelled, (await s.GetAsync("a", running, default))!.State);
    }

    [SkippableFact]
    public async Task ListPagesInSubmissionOrder()
    {
        var s = Store();
        var ids = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add((await Submit(s)).Job!.Id);
        }
        var page1 = await s.ListAsync("a", null, 3, default);
        var page2 = await s.ListAsync("a", page1[^1].Id, 3, default);
        Assert.Equal(ids, page1.Concat(page2).Select(j => j.Id));
    }

    [SkippableFact]
    public async Task EventsComeBackInOrderAfterASequenceNumber()
    {
        var s = Store();
        var id = (await Submit(s)).Job!.Id;
        for (int i = 1; i <= 3; i++)
        {
            await s.AppendEventsAsync(id, [("log", $$"""{"n":{{i}}}""")], default);
        }
        await s.AppendEventsAsync(id, [("log", """{"n":4}"""), ("progress", """{"n":5}""")], default); // one transaction
        var all = await s.ReadEventsAsync(id, 0, 100, default);
        Assert.Equal(6, all.Count); // "queued" + 5
        var tail = await s.ReadEventsAsync(id, all[1].Seq, 100, default);
        Assert.Equal(["""{"n":2}""", """{"n":3}""", """{"n":4}""", """{"n":5}"""], tail.Select(e => e.Data));
        Assert.Equal("progress", tail[^1].Kind);
    }
}
