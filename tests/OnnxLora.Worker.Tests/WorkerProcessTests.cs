// Real worker processes on loopback. Acceptance: two workers on PostgreSQL, ten tiny jobs, five SIGKILLs at
// random moments (each victim restarted): every job succeeds, no job ever ran under two live claims, and
// every adapter equals its uninterrupted twin byte for byte. One job SIGKILLed three times mid-run with
// MaxAttempts=2 and a 5 s lease on SQLite still succeeds: its events end in a terminal state, its metrics have
// one row per step, and ORT wrote no telemetry. Also: SIGTERM checkpoints, releases and exits.
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Tests;

public sealed class WorkerProcessTests
{
    private const string Key = "process-test-key";
    private const int Jobs = 10;
    private const int Steps = 6;
    private const int Kills = 5;
    private static readonly TimeSpan s_allDone = TimeSpan.FromSeconds(300);

    private static string[] Args(string dataDir, params string[] extra) =>
    [
        "--data-dir", dataDir, "--api-key", "t=" + ApiKeyHash.Of(Key),
        "--Worker:ModelRoots:0=" + TinyWorld.ModelRoot, "--Worker:DatasetRoots:0=" + TinyWorld.DatasetRoot,
        // Leases long enough to be renewed on a heavily loaded CI machine: a worker stops writing a job whose
        // lease it could not renew for 80% of it, so 2 s leases churned there without any kill.
        "--Worker:LeaseSeconds=5", "--Worker:HeartbeatSeconds=1", "--Worker:PollSeconds=0.1", "--Worker:MaxAttempts=20",
        "--Logging:LogLevel:Default=Warning", .. extra,
    ];

    private static HttpClient Client(WorkerProcess w)
    {
        var c = new HttpClient { BaseAddress = w.BaseUri, Timeout = TimeSpan.FromSeconds(120) };
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        return c;
    }

    private static async Task<string> SubmitAsync(HttpClient c, string spec)
    {
        var r = await c.PostAsync("/v1/jobs", new StringContent(spec, Encoding.UTF8, "application/json"));
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    [SkippableFact]
    public async Task KilledWorkersResumeJobsToBitIdenticalAdaptersWithoutOverlap()
    {
        using var db = new PgTestDatabase();
        Skip.If(db.ConnectionString is null, db.SkipReason);
        string cs = db.ConnectionString!;
        _ = TinyWorld.Root;
        using var data = new TempDir();
        var workers = Enumerable.Range(0, 2).Select(_ => new WorkerProcess(Args(data.Path, "--postgres", cs))).ToArray();
        try
        {
            await Task.WhenAll(workers.Select(w => w.StartAsync()));
            using var http = Client(workers[0]);
            var ids = new List<string>();
            for (int seed = 1; seed <= Jobs; seed++)
            {
                ids.Add(await SubmitAsync(http, TinyWorld.TrainSpec(Steps, seed)));
            }

            var rng = new Random(20261128);
            for (int k = 0; k < Kills; k++)
            {
                await Task.Delay(rng.Next(300, 1500));
                var victim = workers[rng.Next(workers.Length)];
                victim.Kill();
                await victim.StartAsync();
            }

            await using var store = new PostgresJobStore(cs);
            var deadline = DateTime.UtcNow + s_allDone;
            List<JobRecord> jobs;
            while (true)
            {
                jobs = [.. await Task.WhenAll(ids.Select(async id => (await store.GetAsync(null, id, default))!))];
                if (jobs.All(j => JobStates.IsTerminal(j.State)))
                {
                    break;
                }
                Assert.True(DateTime.UtcNow < deadline, $"jobs not done: {string.Join(", ", jobs.Select(j => j.State))}\n{workers[0].Log}\n{workers[1].Log}");
                await Task.Delay(250);
            }
            Assert.All(jobs, j => Assert.True(j.State == JobStates.Succeeded, $"{j.Id}: {j.State} {j.Error}"));

            var claims = await store.ClaimsAsync(null, default);
            foreach (var group in claims.GroupBy(c => c.JobId))
            {
                var list = group.OrderBy(c => c.ClaimNo).ToList();
                for (int i = 1; i < list.Count; i++)
                {
                    long previousEnd = list[i - 1].EndedMs ?? list[i - 1].LeaseUntilMs;
                    Assert.True(list[i].ClaimedMs >= previousEnd, $"job {group.Key}: claim {i + 1} began while claim {i} was live");
                }
                Assert.Single(list, c => c.Outcome == "succeeded");
            }

            for (int seed = 1; seed <= Jobs; seed++)
            {
                var adapter = File.ReadAllBytes(Path.Combine(data.Path, "jobs", ids[seed - 1], "artifacts", "adapter.safetensors"));
                AdapterCompare.AssertTwin(TinyWorld.TwinAdapter(Steps, seed), adapter, $"job {seed}");
            }
        }
        finally
        {
            foreach (var w in workers)
            {
                w.Dispose();
            }
        }
    }

    [Fact]
    public async Task JobKilledThreeTimesWithTwoAttemptsStillSucceedsWithOneMetricsRowPerStep()
    {
        const int steps = 600, seed = 9, kills = 3, progressBeforeKill = 2;
        _ = TinyWorld.Root;
        using var data = new TempDir();
        using var cache = new TempDir();
        string[] args = [.. Args(data.Path), "--Worker:MaxAttempts=2", "--Worker:LeaseSeconds=5", "--Worker:HeartbeatSeconds=1"];
        WorkerProcess Start()
        {
            var w = new WorkerProcess(args);
            w.Environment["XDG_CACHE_HOME"] = cache.Path; // where ORT would keep its telemetry
            return w;
        }
        var worker = Start();
        try
        {
            await worker.StartAsync();
            string id;
            using (var http = Client(worker))
            {
                id = await SubmitAsync(http, TinyWorld.TrainSpec(steps, seed));
            }
            var deadline = DateTime.UtcNow + s_allDone;
            for (int k = 0; k < kills; k++)
            {
                using var http = Client(worker);
                int from = (await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}")).GetProperty("checkpoint_step").GetInt32();
                while (true)
                {
                    var j = await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");
                    Assert.NotEqual(JobStates.Succeeded, j.GetProperty("state").GetString()); // killed before it could finish
                    if (j.GetProperty("state").GetString() == JobStates.Running && j.GetProperty("checkpoint_step").GetInt32() >= from + progressBeforeKill)
                    {
                        break;
                    }
                    Assert.True(DateTime.UtcNow < deadline, worker.Log);
                    await Task.Delay(20);
                }
                worker.Kill();
                worker.Dispose();
                worker = Start();
                await worker.StartAsync();
            }
            using (var http = Client(worker))
            {
                while ((await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}")).GetProperty("state").GetString() is JobStates.Queued or JobStates.Running)
                {
                    Assert.True(DateTime.UtcNow < deadline, worker.Log);
                    await Task.Delay(100);
                }
                var job = await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}");
                Assert.True(job.GetProperty("state").GetString() == JobStates.Succeeded, job.ToString());
                Assert.Equal(kills, job.GetProperty("crash_resumes").GetInt32());
                Assert.Equal(1, job.GetProperty("attempts").GetInt32());

                var events = await http.GetStringAsync($"/v1/jobs/{id}/events");
                var lastState = events.Split('\n').Last(l => l.StartsWith("data: {\"state\"", StringComparison.Ordinal));
                Assert.Equal($$"""data: {"state":"{{JobStates.Succeeded}}"}""", lastState);
                Assert.Equal(kills, events.Split('\n').Count(l => l.Contains("crash-resume", StringComparison.Ordinal)));

                var metricSteps = (await http.GetStringAsync($"/v1/jobs/{id}/artifacts/metrics"))
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => JsonDocument.Parse(l).RootElement)
                    .Where(r => r.TryGetProperty("loss", out _))
                    .Select(r => r.GetProperty("step").GetInt32());
                Assert.Equal(Enumerable.Range(1, steps), metricSteps);
                AdapterCompare.AssertTwin(TinyWorld.TwinAdapter(steps, seed),
                    await http.GetByteArrayAsync($"/v1/jobs/{id}/artifacts/adapter.safetensors"), "job killed three times");
            }
            await using (var store = new SqliteJobStore(Path.Combine(data.Path, JobStoreFactory.SqliteFile)))
            {
                var claims = await store.ClaimsAsync(id, default);
                Assert.Equal(kills + 1, claims.Count);
                Assert.All(claims, c => Assert.NotNull(c.EndedMs));
                Assert.Equal(["expired-resume", "expired-resume", "expired-resume", "succeeded"], claims.Select(c => c.Outcome));
            }
            Assert.False(Directory.Exists(Path.Combine(cache.Path, "Microsoft")), "ONNX Runtime wrote telemetry under XDG_CACHE_HOME");
        }
        finally
        {
            worker.Dispose();
        }
    }

    [Fact]
    public async Task SigtermCheckpointsReleasesTheLeaseAndExitsThenTheJobResumes()
    {
        const int steps = 300, seed = 5;
        _ = TinyWorld.Root;
        using var data = new TempDir();
        using var worker = new WorkerProcess(Args(data.Path));
        await worker.StartAsync();
        using var http = Client(worker);
        var id = await SubmitAsync(http, TinyWorld.TrainSpec(steps, seed));
        var deadline = DateTime.UtcNow + s_allDone;
        while ((await http.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}")).GetProperty("step").GetInt32() < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, worker.Log);
            await Task.Delay(50);
        }
        Assert.Equal(0, worker.Terminate(TimeSpan.FromSeconds(30)));

        await using (var store = new SqliteJobStore(Path.Combine(data.Path, JobStoreFactory.SqliteFile)))
        {
            var job = await store.GetAsync(null, id, default);
            Assert.Equal((JobStates.Queued, 0, (string?)null), (job!.State, job.Attempts, job.LeaseOwner));
            Assert.Equal("released", (await store.ClaimsAsync(id, default)).Single().Outcome);
        }
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(data.Path, "jobs", id, "run", "checkpoints"), "step-*"));

        using var again = new WorkerProcess(Args(data.Path));
        await again.StartAsync();
        using var http2 = Client(again);
        while ((await http2.GetFromJsonAsync<JsonElement>($"/v1/jobs/{id}")).GetProperty("state").GetString() != JobStates.Succeeded)
        {
            Assert.True(DateTime.UtcNow < deadline, again.Log);
            await Task.Delay(100);
        }
        AdapterCompare.AssertTwin(TinyWorld.TwinAdapter(steps, seed), File.ReadAllBytes(Path.Combine(data.Path, "jobs", id, "artifacts", "adapter.safetensors")), "resumed job");
    }
}
