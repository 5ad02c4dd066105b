// The HTTP API against a real in-process host: authentication (401), tenant isolation (404), path
// confinement (400 with a reason), body limit (413), schema validation naming the field, server limits and
// tenant quota naming the limit, JSON for every error, short quotes of long input, idempotent submission, an
// end-to-end training job with its artifacts (no server path in them) and events, cancellation (409 once finished),
// and a configuration error found at run time failing once.
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OnnxLora.Worker.Tests;

public sealed class WorkerApiTests(ApiHost host) : IClassFixture<ApiHost>
{
    private static readonly TimeSpan s_jobTimeout = TimeSpan.FromSeconds(90);

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ReadJson(HttpResponseMessage r) =>
        JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone();

    private static async Task<string> SubmitAsync(HttpClient c, string spec, string? idempotencyKey = null)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json(spec) };
        if (idempotencyKey is not null)
        {
            req.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        var r = await c.SendAsync(req);
        Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync());
        return (await ReadJson(r)).GetProperty("id").GetString()!;
    }

    private static async Task<JsonElement> WaitAsync(HttpClient c, string id, Func<JsonElement, bool> until)
    {
        var deadline = DateTime.UtcNow + s_jobTimeout;
        while (true)
        {
            var job = await ReadJson(await c.GetAsync($"/v1/jobs/{id}"));
            if (until(job))
            {
                return job;
            }
            Assert.True(DateTime.UtcNow < deadline, $"job {id} timed out: {job}");
            await Task.Delay(100);
        }
    }

    private static string State(JsonElement job) => job.GetProperty("state").GetString()!;

    [Fact]
    public async Task EveryEndpointButTheProbesNeedsAKey()
    {
        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal("ready", (await ReadJson(await host.Anonymous.GetAsync("/ready"))).GetProperty("status").GetString());
        foreach (var path in new[] { "/v1/jobs", "/v1/jobs/x", "/v1/jobs/x/events", "/v1/jobs/x/artifacts/adapter", "/openapi.json" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await host.Anonymous.GetAsync(path)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Anonymous.PostAsync("/v1/jobs", Json("""{"kind":"noop"}"""))).StatusCode);
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/jobs");
        wrong.Headers.Authorization = new("Bearer", "not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Anonymous.SendAsync(wrong)).StatusCode);
        Assert.Contains("/v1/jobs", await host.A.GetStringAsync("/openapi.json"));
    }

    [Theory]
    [InlineData("/v1/jobs?limit=abc", HttpStatusCode.BadRequest, "limit")]
    [InlineData("/v1/jobs?limit=0", HttpStatusCode.BadRequest, "limit")]
    [InlineData("/v1/nothing-here", HttpStatusCode.NotFound, null)]
    public async Task EveryErrorIsJson(string path, HttpStatusCode status, string? field)
    {
        var r = await host.A.GetAsync(path);
        Assert.Equal(status, r.StatusCode);
        var body = await ReadJson(r);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
        Assert.Equal(field, body.GetProperty("field").GetString());
        var post = await host.A.PutAsync("/v1/jobs", Json("{}")); // no such method
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.True((await ReadJson(post)).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task LongInputIsQuotedShort()
    {
        string name = new('n', 10_000);
        var r = await host.A.PostAsync("/v1/jobs", Json($$"""{"kind":"noop","{{name}}":1}"""));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var body = await ReadJson(r);
        Assert.InRange(body.GetProperty("error").GetString()!.Length, 1, Spec.ErrorText.MaxMessage + 40);
        Assert.InRange(body.GetProperty("field").GetString()!.Length, 1, Spec.ErrorText.MaxQuoted + 40);
        var kind = await ReadJson(await host.A.PostAsync("/v1/jobs", Json($$"""{"kind":"{{name}}"}""")));
        Assert.Contains("more characters", kind.GetProperty("error").GetString());
        Assert.True(kind.GetProperty("error").GetString()!.Count(c => c == 'n') <= Spec.ErrorText.MaxQuoted + 10);
    }

    [Theory]
    [InlineData("""{"lora":{"r":1000000}}""", "config.lora.r", "Worker:Limits:MaxRank = 256")]
    [InlineData("""{"batch_size":1000000}""", "config.max_seq_len", "Worker:Limits:MaxTokensPerStep = 1048576")]
    [InlineData("""{"grad_accum":1000000}""", "config.max_seq_len", "Worker:Limits:MaxTokensPerStep = 1048576")]
    [InlineData("""{"max_seq_len":100000000}""", "config.max_seq_len", "Worker:Limits:MaxTokensPerStep = 1048576")]
    [InlineData("""{"max_steps":2147483647}""", "config.max_steps", "Worker:Limits:MaxSteps = 1000000")]
    [InlineData("""{"epochs":1000000}""", "config.epochs", "Worker:Limits:MaxEpochs = 100")]
    public async Task RequestOverAServerLimitIs400NamingTheLimit(string config, string field, string limit)
    {
        var r = await host.A.PostAsync("/v1/jobs", Json($$"""{"model":"tiny","dataset":"pirate.jsonl","config":{{config}}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var body = await ReadJson(r);
        Assert.Equal(field, body.GetProperty("field").GetString());
        Assert.Contains(limit, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task TenantOverItsQuotaOfActiveJobsGets429NamingTheLimit()
    {
        var ids = new List<string>();
        for (int i = 0; i < ApiHost.Quota; i++)
        {
            ids.Add(await SubmitAsync(host.Q, """{"kind":"noop","duration_ms":60000}"""));
        }
        try
        {
            var r = await host.Q.PostAsync("/v1/jobs", Json("""{"kind":"noop"}"""));
            Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
            Assert.Contains($"Worker:Limits:MaxActiveJobsPerTenant = {ApiHost.Quota}", (await ReadJson(r)).GetProperty("error").GetString());
            Assert.Equal(HttpStatusCode.Created, (await host.B.PostAsync("/v1/jobs", Json("""{"kind":"noop"}"""))).StatusCode);
        }
        finally
        {
            foreach (var id in ids)
            {
                await host.Q.DeleteAsync($"/v1/jobs/{id}");
            }
        }
        await WaitAsync(host.Q, ids[0], j => State(j) == "cancelled");
        Assert.Equal(HttpStatusCode.Created, (await host.Q.PostAsync("/v1/jobs", Json("""{"kind":"noop"}"""))).StatusCode);
    }

    [SkippableFact]
    public async Task DeviceThisBuildLacksFailsTheJobOnceWithoutRetry()
    {
        Skip.If(Spec.JobLimits.AvailableDevices.Contains(Onnx.Runtime.Device.Cuda), "this build has the CUDA provider");
        var id = await SubmitAsync(host.A, """{"model":"tiny","dataset":"pirate.jsonl","config":{"max_steps":2,"runtime":{"device":"cuda"}}}""");
        var job = await WaitAsync(host.A, id, j => State(j) is "succeeded" or "failed");
        Assert.Equal(("failed", 1), (State(job), job.GetProperty("attempts").GetInt32()));
        Assert.Contains("runtime.device 'cuda' is not available on this worker", job.GetProperty("error").GetString());
    }

    [Fact]
    public async Task ConfigurationErrorFoundAtRunTimeFailsOnceWithoutRetry()
    {
        // val_split 0.99 of the 16 dataset lines leaves no training examples: only the run can tell.
        var id = await SubmitAsync(host.A, """{"model":"tiny","dataset":"pirate.jsonl","config":{"max_steps":2,"val_split":0.99}}""");
        var job = await WaitAsync(host.A, id, j => State(j) is "succeeded" or "failed");
        Assert.Equal("failed", State(job));
        Assert.Equal(1, job.GetProperty("attempts").GetInt32());
        Assert.Contains("no training examples", job.GetProperty("error").GetString());
        var events = await host.A.GetStringAsync($"/v1/jobs/{id}/events");
        Assert.Contains("\"retryable\":false", events);
        Assert.Single(events.Split('\n'), l => l.Contains("\"state\":\"running\""));
    }

    [Fact]
    public async Task AnotherTenantsJobIsNotFound()
    {
        var id = await SubmitAsync(host.A, """{"kind":"noop"}""");
        await WaitAsync(host.A, id, j => State(j) == "succeeded");
        Assert.Equal(HttpStatusCode.NotFound, (await host.B.GetAsync($"/v1/jobs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.B.GetAsync($"/v1/jobs/{id}/events")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.B.GetAsync($"/v1/jobs/{id}/artifacts/adapter")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.B.DeleteAsync($"/v1/jobs/{id}")).StatusCode);
        var list = await ReadJson(await host.B.GetAsync("/v1/jobs"));
        Assert.DoesNotContain(list.GetProperty("jobs").EnumerateArray(), j => j.GetProperty("id").GetString() == id);
    }

    [Theory]
    [InlineData("model", "../models/tiny", "'..'")]
    [InlineData("model", "/etc", "outside the allowed roots")]
    [InlineData("dataset", "/etc/passwd", "outside the allowed roots")]
    [InlineData("model", "escape", "symbolic link")]
    [InlineData("dataset", "missing.jsonl", "not found")]
    public async Task PathsOutsideTheRootsAreRefused(string field, string value, string reason)
    {
        var link = Path.Combine(TinyWorld.ModelRoot, "escape");
        if (!Path.Exists(link))
        {
            try
            {
                Directory.CreateSymbolicLink(link, "/etc");
            }
            catch (IOException)
            {
                // created by a parallel case
            }
        }
        var spec = JsonSerializer.Deserialize<Dictionary<string, object>>(TinyWorld.TrainSpec(2, 1))!;
        spec[field] = value;
        var r = await host.A.PostAsync("/v1/jobs", Json(JsonSerializer.Serialize(spec)));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var body = await ReadJson(r);
        Assert.Equal(field, body.GetProperty("field").GetString());
        Assert.Contains(reason, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        var big = "{\"kind\":\"noop\",\"pad\":\"" + new string('x', (int)ApiHost.MaxBodyBytes) + "\"}";
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await host.A.PostAsync("/v1/jobs", Json(big))).StatusCode);
    }

    [Theory]
    [InlineData("""{"kind":"noop","colour":"red"}""", "colour")]
    [InlineData("""{"kind":"warp"}""", "kind")]
    [InlineData("""{"kind":"noop","duration_ms":999999999}""", "duration_ms")]
    [InlineData("""{"model":"tiny","dataset":"pirate.jsonl","config":{"lr":-1}}""", "config.lr")]
    [InlineData("""{"model":"tiny","dataset":"pirate.jsonl","config":{"lora":{"r":0}}}""", "config.lora.r")]
    [InlineData("""{"model":"tiny","dataset":"pirate.jsonl","config":{"bogus":1}}""", "config.bogus")]
    [InlineData("""{"model":"tiny","dataset":"pirate.jsonl","config":{"output":"/tmp/x"}}""", "config.output")]
    [InlineData("""{"model":"tiny","dataset":"pirate.jsonl","outputs":["weights"]}""", "outputs")]
    public async Task InvalidSpecIs400NamingTheField(string spec, string field)
    {
        var r = await host.A.PostAsync("/v1/jobs", Json(spec));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal(field, (await ReadJson(r)).GetProperty("field").GetString());
    }

    [Fact]
    public async Task IdempotencyKeyReturnsTheSameJob()
    {
        var first = await SubmitAsync(host.A, """{"kind":"noop"}""", "same-key");
        var second = await SubmitAsync(host.A, """{"kind":"noop"}""", "same-key");
        Assert.Equal(first, second);
        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/jobs") { Content = Json("""{"kind":"noop","duration_ms":5}""") };
        req.Headers.Add("Idempotency-Key", "same-key");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await host.A.SendAsync(req)).StatusCode);
    }

    [Fact]
    public async Task TrainJobProducesAdapterMergedModelMetricsAndEvents()
    {
        const int steps = 3, seed = 11;
        var id = await SubmitAsync(host.A, TinyWorld.TrainSpec(steps, seed, """["adapter", "merged", "metrics"]""", "zip"));
        var twin = TinyWorld.TwinAdapter(steps, seed);
        var job = await WaitAsync(host.A, id, j => State(j) is "succeeded" or "failed" or "cancelled");
        Assert.Equal("succeeded", State(job));
        Assert.Equal(steps, job.GetProperty("step").GetInt32());
        Assert.True(job.GetProperty("loss").GetDouble() > 0);
        Assert.Equal(twin, await host.A.GetByteArrayAsync($"/v1/jobs/{id}/artifacts/adapter.safetensors"));
        var tar = await host.A.GetAsync($"/v1/jobs/{id}/artifacts/adapter");
        Assert.Equal("application/gzip", tar.Content.Headers.ContentType!.MediaType);
        var zip = await host.A.GetByteArrayAsync($"/v1/jobs/{id}/artifacts/merged");
        Assert.Equal((byte)'P', zip[0]);
        using (var archive = new ZipArchive(new MemoryStream(zip)))
        {
            foreach (var entry in archive.Entries)
            {
                using var content = new MemoryStream();
                entry.Open().CopyTo(content);
                foreach (var serverPath in new[] { host.DataDir, TinyWorld.Root })
                {
                    Assert.True(content.ToArray().AsSpan().IndexOf(Encoding.UTF8.GetBytes(serverPath)) < 0, $"merged/{entry.FullName} names {serverPath}");
                }
            }
        }
        var metrics = await host.A.GetStringAsync($"/v1/jobs/{id}/artifacts/metrics");
        Assert.Contains("\"loss\"", metrics);
        Assert.Equal(HttpStatusCode.NotFound, (await host.A.GetAsync($"/v1/jobs/{id}/artifacts/..%2Fjobs.db")).StatusCode);

        var events = await host.A.GetStringAsync($"/v1/jobs/{id}/events");
        Assert.Contains("event: progress", events);
        Assert.Contains("event: log", events);
        Assert.Contains("\"state\":\"succeeded\"", events);

        // No server path reaches the tenant: not in the events, not in the adapter's config.
        foreach (var serverPath in new[] { host.DataDir, TinyWorld.Root, Path.GetTempPath() })
        {
            Assert.DoesNotContain(serverPath, events);
        }
        using var gz = new GZipStream(new MemoryStream(await host.A.GetByteArrayAsync($"/v1/jobs/{id}/artifacts/adapter")), CompressionMode.Decompress);
        using var reader = new TarReader(gz);
        string? config = null;
        while (reader.GetNextEntry() is { } entry)
        {
            if (entry.Name == "adapter_config.json")
            {
                config = new StreamReader(entry.DataStream!).ReadToEnd();
            }
        }
        Assert.Equal(TinyWorld.ModelName, JsonDocument.Parse(config!).RootElement.GetProperty("base_model_name_or_path").GetString());
    }

    [Fact]
    public async Task CancelOfAFinishedJobIs409()
    {
        var id = await SubmitAsync(host.A, """{"kind":"noop"}""");
        await WaitAsync(host.A, id, j => State(j) == "succeeded");
        var r = await host.A.DeleteAsync($"/v1/jobs/{id}");
        Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
        Assert.Contains("succeeded", (await ReadJson(r)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task CancelStopsARunningJobAtTheNextStepWithACheckpoint()
    {
        var id = await SubmitAsync(host.A, TinyWorld.TrainSpec(5000, 3));
        await WaitAsync(host.A, id, j => j.GetProperty("step").GetInt32() >= 2);
        Assert.Equal(HttpStatusCode.Accepted, (await host.A.DeleteAsync($"/v1/jobs/{id}")).StatusCode);
        var job = await WaitAsync(host.A, id, j => State(j) != "running");
        Assert.Equal("cancelled", State(job));
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(host.DataDir, "jobs", id, "run", "checkpoints"), "step-*"));
    }
}
