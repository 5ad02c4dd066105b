// The HTTP API over the job store: submit, get, list (paged), cancel, server-sent events and artifacts,
// plus the probes /health (liveness) and /ready (readiness: store reachable, not stopping), both without a key.
// Handlers validate and translate; the store and the worker do the work. Every error answer is an ApiError.
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxLora.Worker.Execution;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Spec;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker.Api;

public static class JobEndpoints
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;
    public const int MaxIdempotencyKeyLength = 200;
    private const int EventBatch = 200;
    private static readonly TimeSpan s_eventPoll = TimeSpan.FromMilliseconds(250);

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/health", () => Results.Ok(new { status = "ok" })).WithName("Health");
        app.MapGet("/ready", ReadyAsync).WithName("Ready");
        var jobs = app.MapGroup("/v1/jobs");
        jobs.MapPost("/", SubmitAsync).WithName("SubmitJob")
            .Produces<SubmitResponse>(StatusCodes.Status201Created).Produces<ApiError>(StatusCodes.Status400BadRequest)
            .Produces(StatusCodes.Status413PayloadTooLarge).Produces<ApiError>(StatusCodes.Status429TooManyRequests);
        jobs.MapGet("/", ListAsync).WithName("ListJobs").Produces<JobList>();
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob").Produces<JobView>().Produces<ApiError>(StatusCodes.Status404NotFound);
        jobs.MapDelete("/{id}", CancelAsync).WithName("CancelJob").Produces<JobView>(StatusCodes.Status202Accepted)
            .Produces<ApiError>(StatusCodes.Status409Conflict);
        jobs.MapGet("/{id}/events", EventsAsync).WithName("JobEvents").Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        jobs.MapGet("/{id}/artifacts/{name}", ArtifactAsync).WithName("GetArtifact").Produces(StatusCodes.Status200OK, contentType: "application/octet-stream");
    }

    /// <summary>Readiness: 503 while the host is stopping or the job store does not answer (details go to the log only).</summary>
    private static async Task<IResult> ReadyAsync(IJobStore store, IHostApplicationLifetime lifetime, ILoggerFactory logs, CancellationToken ct)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return Results.Json(ApiError.Of("shutting down"), statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        try
        {
            await store.PingAsync(ct);
            return Results.Ok(new { status = "ready" });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logs.CreateLogger(typeof(JobEndpoints).FullName!).LogWarning(e, "Readiness: job store unreachable");
            return Results.Json(ApiError.Of("job store unreachable"), statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static async Task<IResult> SubmitAsync(HttpContext ctx, IJobStore store, IOptions<WorkerOptions> options, CancellationToken ct)
    {
        var o = options.Value;
        if (ctx.Request.ContentLength > o.MaxBodyBytes)
        {
            return TooLarge(o);
        }
        string body;
        try
        {
            using var reader = new StreamReader(ctx.Request.Body);
            body = await reader.ReadToEndAsync(ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(o);
        }
        string? key = ctx.Request.Headers["Idempotency-Key"].FirstOrDefault();
        if (key is { Length: 0 or > MaxIdempotencyKeyLength })
        {
            return Results.BadRequest(ApiError.Of($"Idempotency-Key must be 1..{MaxIdempotencyKeyLength} characters", "Idempotency-Key"));
        }
        JobSpec spec;
        try
        {
            spec = JobSpecParser.Parse(body, o);
        }
        catch (JobSpecException e)
        {
            return Results.BadRequest(ApiError.Of(e.Message, e.Field));
        }
        string specJson = spec.ToJson();
        var result = await store.SubmitAsync(new NewJob(ApiKeyMiddleware.TenantOf(ctx), spec.Kind, specJson, o.MaxAttempts, key,
            o.MaxCrashResumes, o.Limits.MaxActiveJobsPerTenant), ct);
        if (result.Job is null)
        {
            // A quota frees as jobs finish, so 429 (retry later) rather than 400; the body names the limit.
            return Results.Json(ApiError.Of($"the tenant has {result.ActiveJobs} queued or running jobs, the server limit " +
                $"{WorkerLimits.Key(nameof(WorkerLimits.MaxActiveJobsPerTenant))} = {o.Limits.MaxActiveJobsPerTenant}"),
                statusCode: StatusCodes.Status429TooManyRequests);
        }
        if (!result.Created && result.Job.Spec != specJson)
        {
            return Results.Json(ApiError.Of("Idempotency-Key was already used with a different job spec", "Idempotency-Key"),
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }
        var response = new SubmitResponse(result.Job.Id, result.Job.State, result.Created);
        return result.Created ? Results.Created($"/v1/jobs/{result.Job.Id}", response) : Results.Ok(response);
    }

    private static async Task<IResult> ListAsync(HttpContext ctx, IJobStore store, string? after, string? limit, CancellationToken ct)
    {
        int n = DefaultPageSize;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out n) || n is < 1 or > MaxPageSize))
        {
            return Results.BadRequest(ApiError.Of($"limit must be an integer in [1, {MaxPageSize}]", "limit"));
        }
        var rows = await store.ListAsync(ApiKeyMiddleware.TenantOf(ctx), after, n, ct);
        return Results.Ok(new JobList(rows.Select(r => JobView.From(r)).ToList(), rows.Count == n ? rows[^1].Id : null));
    }

    private static async Task<IResult> GetAsync(HttpContext ctx, IJobStore store, IOptions<WorkerOptions> options, string id, CancellationToken ct)
    {
        var job = await store.GetAsync(ApiKeyMiddleware.TenantOf(ctx), id, ct);
        if (job is null)
        {
            return NotFound();
        }
        IReadOnlyList<string>? artifacts = job.State == JobStates.Succeeded
            ? ArtifactCatalog.Read(JobFolders.For(options.Value, id).ArtifactsDir).Keys.ToList()
            : null;
        return Results.Ok(JobView.From(job, artifacts));
    }

    private static async Task<IResult> CancelAsync(HttpContext ctx, IJobStore store, string id, CancellationToken ct)
    {
        var result = await store.RequestCancelAsync(ApiKeyMiddleware.TenantOf(ctx), id, ct);
        return result switch
        {
            null => NotFound(),
            { Accepted: false } => Results.Json(ApiError.Of($"job is {result.Job.State}; only queued or running jobs can be cancelled"),
                statusCode: StatusCodes.Status409Conflict),
            _ => Results.Json(JobView.From(result.Job), statusCode: StatusCodes.Status202Accepted),
        };
    }

    private static async Task EventsAsync(HttpContext ctx, IJobStore store, string id, CancellationToken ct)
    {
        string tenant = ApiKeyMiddleware.TenantOf(ctx);
        if (await store.GetAsync(tenant, id, ct) is null)
        {
            await NotFound().ExecuteAsync(ctx);
            return;
        }
        long after = long.TryParse(ctx.Request.Headers["Last-Event-ID"].FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 0;
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var events = await store.ReadEventsAsync(id, after, EventBatch, ct);
                foreach (var e in events)
                {
                    await ctx.Response.WriteAsync($"id: {e.Seq}\nevent: {e.Kind}\ndata: {e.Data}\n\n", ct);
                    after = e.Seq;
                }
                await ctx.Response.Body.FlushAsync(ct);
                if (events.Count > 0)
                {
                    continue;
                }
                var job = await store.GetAsync(tenant, id, ct);
                if (job is null || JobStates.IsTerminal(job.State))
                {
                    if ((await store.ReadEventsAsync(id, after, 1, ct)).Count == 0)
                    {
                        break;
                    }
                    continue;
                }
                await Task.Delay(s_eventPoll, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the client went away
        }
    }

    private static async Task<IResult> ArtifactAsync(HttpContext ctx, IJobStore store, IOptions<WorkerOptions> options, string id, string name,
        CancellationToken ct)
    {
        var job = await store.GetAsync(ApiKeyMiddleware.TenantOf(ctx), id, ct);
        if (job is null)
        {
            return NotFound();
        }
        if (job.State != JobStates.Succeeded)
        {
            return Results.Json(ApiError.Of($"job is {job.State}; artifacts appear when it has succeeded"), statusCode: StatusCodes.Status409Conflict);
        }
        var path = ArtifactCatalog.Resolve(JobFolders.For(options.Value, id).ArtifactsDir, name);
        return path is null || !File.Exists(path)
            ? Results.NotFound(ApiError.Of($"no artifact '{ErrorText.Quote(name)}'", "name"))
            : Results.File(path, ArtifactCatalog.ContentType(path), Path.GetFileName(path));
    }

    private static IResult NotFound() => Results.NotFound(ApiError.Of("job not found"));

    private static IResult TooLarge(WorkerOptions o) =>
        Results.Json(ApiError.Of($"request body exceeds {o.MaxBodyBytes} bytes"), statusCode: StatusCodes.Status413PayloadTooLarge);
}
