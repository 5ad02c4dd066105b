// One behaviour suite for every job store; SqliteJobStoreTests and PostgresJobStoreTests run it against a
// real database each. Leases are short here so expiry is observable in milliseconds.
using System.Collections.Concurrent;
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

    private static Task<SubmitResult> Submit(IJobStore s, string tenant = "a", int maxAttempts = 3, string? key = null) =>
        s.SubmitAsync(new NewJob(tenant, "noop", Spec, maxAttempts, key), CancellationToken.None);

    [Fact]
    public async Task SubmittedJobIsQueuedAndVisibleOnlyToItsTenant()
    {
        if (_store is not { } s) return;
        var r = await Submit(s);
        Assert.True(r.Created);
        Assert.Equal(JobStates.Queued, r.Job.State);
        Assert.NotNull(await s.GetAsync("a", r.Job.Id, default));
        Assert.Null(await s.GetAsync("b", r.Job.Id, default));
        Assert.Null(await s.RequestCancelAsync("b", r.Job.Id, default));
        Assert.Empty(await s.ListAsync("b", null, 10, default));
    }

    [Fact]
    public async Task IdempotencyKeyReturnsTheFirstJob()
    {
        if (_store is not { } s) return;
        var first = await Submit(s, key: "k1");
        var again = await Submit(s, key: "k1");
        var otherTenant = await Submit(s, tenant: "b", key: "k1");
        Assert.False(again.Created);
        Assert.Equal(first.Job.Id, again.Job.Id);
        Assert.True(otherTenant.Created);
        Assert.Single(await s.ListAsync("a", null, 10, default));
    }

    [Fact]
    public async Task ConcurrentClaimersTakeEachJobExactlyOnce()
    {
        if (_store is not { } s) return;
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

    [Fact]
    public async Task ExpiredLeaseMakesTheJobClaimableAgainAndFencesTheOldOwner()
    {
        if (_store is not { } s) return;
        var id = (await Submit(s)).Job.Id;
        Assert.Equal(id, (await s.ClaimAsync("w1", s_short, default))!.Id);
        Assert.Null(await s.ClaimAsync("w2", s_short, default));
        Assert.Equal(LeaseStatus.Held, await s.HeartbeatAsync(id, "w1", s_short, new JobProgress(3, 10, 1.5, 7), default));
        var running = await s.GetAsync("a", id, default);
        Assert.Equal((3, 10, 1.5), (running!.Step, running.TotalSteps, running.Loss!.Value));

        await Task.Delay(s_short * 2);
        var again = await s.ClaimAsync("w2", s_long, default);
        Assert.Equal(id, again!.Id);
        Assert.Equal(2, again.Attempts);
        Assert.Equal(LeaseStatus.Lost, await s.HeartbeatAsync(id, "w1", s_short, null, default));
        Assert.False(await s.CompleteAsync(id, "w1", default));
        Assert.True(await s.CompleteAsync(id, "w2", default));
        Assert.Equal(JobStates.Succeeded, (await s.GetAsync("a", id, default))!.State);

        var claims = await s.ClaimsAsync(id, default);
        Assert.Equal(["w1", "w2"], claims.Select(c => c.Worker));
        Assert.True(claims[1].ClaimedMs >= claims[0].LeaseUntilMs, "second claim began before the first lease ran out");
        Assert.Equal("succeeded", claims[1].Outcome);
    }

    [Fact]
    public async Task ExhaustedAttemptsFailTheJobWithTheReason()
    {
        if (_store is not { } s) return;
        var id = (await Submit(s, maxAttempts: 2)).Job.Id;
        Assert.NotNull(await s.ClaimAsync("w1", s_short, default));
        await Task.Delay(s_short * 2);
        Assert.NotNull(await s.ClaimAsync("w2", s_short, default));
        await Task.Delay(s_short * 2);
        Assert.Null(await s.ClaimAsync("w3", s_short, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal(JobStates.Failed, job!.State);
        Assert.Contains("attempt 2 of 2", job.Error);
    }

    [Fact]
    public async Task RetryableFailureRequeuesUntilAttemptsRunOut()
    {
        if (_store is not { } s) return;
        var id = (await Submit(s, maxAttempts: 2)).Job.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.FailAsync(id, "w1", "io hiccup", retryable: true, default));
        Assert.Equal(JobStates.Queued, (await s.GetAsync("a", id, default))!.State);
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.FailAsync(id, "w1", "io hiccup again", retryable: true, default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Failed, "io hiccup again"), (job!.State, job.Error));
    }

    [Fact]
    public async Task ReleaseRequeuesWithoutSpendingAnAttempt()
    {
        if (_store is not { } s) return;
        var id = (await Submit(s, maxAttempts: 1)).Job.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True(await s.ReleaseAsync(id, "w1", default));
        var job = await s.GetAsync("a", id, default);
        Assert.Equal((JobStates.Queued, 0, (string?)null), (job!.State, job.Attempts, job.LeaseOwner));
        Assert.Equal(id, (await s.ClaimAsync("w2", s_long, default))!.Id);
    }

    [Fact]
    public async Task CancelEndsAQueuedJobAndFlagsARunningOne()
    {
        if (_store is not { } s) return;
        var queued = (await Submit(s)).Job.Id;
        Assert.Equal(JobStates.Cancelled, (await s.RequestCancelAsync("a", queued, default))!.State);
        var running = (await Submit(s)).Job.Id;
        await s.ClaimAsync("w1", s_long, default);
        Assert.True((await s.RequestCancelAsync("a", running, default))!.CancelRequested);
        Assert.Equal(LeaseStatus.CancelRequested, await s.HeartbeatAsync(running, "w1", s_long, null, default));
        Assert.True(await s.MarkCancelledAsync(running, "w1", default));
        Assert.Equal(JobStates.Cancelled, (await s.GetAsync("a", running, default))!.State);
    }

    [Fact]
    public async Task ListPagesInSubmissionOrder()
    {
        if (_store is not { } s) return;
        var ids = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            ids.Add((await Submit(s)).Job.Id);
        }
        var page1 = await s.ListAsync("a", null, 3, default);
        var page2 = await s.ListAsync("a", page1[^1].Id, 3, default);
        Assert.Equal(ids, page1.Concat(page2).Select(j => j.Id));
    }

    [Fact]
    public async Task EventsComeBackInOrderAfterASequenceNumber()
    {
        if (_store is not { } s) return;
        var id = (await Submit(s)).Job.Id;
        for (int i = 1; i <= 3; i++)
        {
            await s.AppendEventAsync(id, "log", $$"""{"n":{{i}}}""", default);
        }
        var all = await s.ReadEventsAsync(id, 0, 100, default);
        Assert.Equal(4, all.Count); // "queued" + 3
        var tail = await s.ReadEventsAsync(id, all[1].Seq, 100, default);
        Assert.Equal(["""{"n":2}""", """{"n":3}"""], tail.Select(e => e.Data));
    }
}
