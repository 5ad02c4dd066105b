// The HTTP API over the job store: submit, get, list (paged), cancel, server-sent events and artifacts,
// plus /health (no key) and /ready. Handlers validate and translate; the store and the worker do the work.
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
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
            .Produces(StatusCodes.Status413PayloadTooLarge);
        jobs.MapGet("/", ListAsync).WithName("ListJobs").Produces<JobList>();
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob").Produces<JobView>().Produces<ApiError>(StatusCodes.Status404NotFound);
        jobs.MapDelete("/{id}", CancelAsync).WithName("CancelJob").Produces<JobView>(StatusCodes.Status202Accepted);
        jobs.MapGet("/{id}/events", EventsAsync).WithName("JobEvents").Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        jobs.MapGet("/{id}/artifacts/{name}", ArtifactAsync).WithName("GetArtifact").Produces(StatusCodes.Status200OK, contentType: "application/octet-stream");
    }

    private static async Task<IResult> ReadyAsync(IJobStore store, CancellationToken ct)
    {
        try
        {
            await store.PingAsync(ct);
            return Results.Ok(new { status = "ready" });
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Results.Json(new ApiError($"job store unreachable: {e.Message}", null), statusCode: StatusCodes.Status503ServiceUnavailable);
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
            return Results.BadRequest(new ApiError($"Idempotency-Key must be 1..{MaxIdempotencyKeyLength} characters", "Idempotency-Key"));
        }
        JobSpec spec;
        try
        {
            spec = JobSpecParser.Parse(body, o);
        }
        catch (JobSpecException e)
        {
            return Results.BadRequest(new ApiError(e.Message, e.Field));
        }
        string specJson = spec.ToJson();
        var result = await store.SubmitAsync(new NewJob(ApiKeyMiddleware.TenantOf(ctx), spec.Kind, specJson, o.MaxAttempts, key), ct);
        if (!result.Created && result.Job.Spec != specJson)
        {
            return Results.Json(new ApiError("Idempotency-Key was already used with a different job spec", "Idempotency-Key"),
                statusCode: StatusCodes.Status422UnprocessableEntity);
        }
        var response = new SubmitResponse(result.Job.Id, result.Job.State, result.Created);
        return result.Created ? Results.Created($"/v1/jobs/{result.Job.Id}", response) : Results.Ok(response);
    }

    private static async Task<IResult> ListAsync(HttpContext ctx, IJobStore store, string? after, int? limit, CancellationToken ct)
    {
        int n = limit ?? DefaultPageSize;
        if (n is < 1 or > MaxPageSize)
        {
            return Results.BadRequest(new ApiError($"limit must be in [1, {MaxPageSize}]", "limit"));
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
        var job = await store.RequestCancelAsync(ApiKeyMiddleware.TenantOf(ctx), id, ct);
        return job is null ? NotFound() : Results.Json(JobView.From(job), statusCode: StatusCodes.Status202Accepted);
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
            return Results.Json(new ApiError($"job is {job.State}; artifacts appear when it has succeeded", null), statusCode: StatusCodes.Status409Conflict);
        }
        var path = ArtifactCatalog.Resolve(JobFolders.For(options.Value, id).ArtifactsDir, name);
        return path is null || !File.Exists(path)
            ? Results.NotFound(new ApiError($"no artifact '{name}'", "name"))
            : Results.File(path, ArtifactCatalog.ContentType(path), Path.GetFileName(path));
    }

    private static IResult NotFound() => Results.NotFound(new ApiError("job not found", null));

    private static IResult TooLarge(WorkerOptions o) =>
        Results.Json(new ApiError($"request body exceeds {o.MaxBodyBytes} bytes", null), statusCode: StatusCodes.Status413PayloadTooLarge);
}
