// Builds the worker service: configuration (Worker section), the job store, the background worker,
// Kestrel on loopback by default with a body-size limit, bearer-key middleware, the API and OpenAPI.
// Every error answer is JSON: unhandled exceptions become a 500 without a stack trace, and bodiless error
// statuses (a bad query value, an unknown route) get an ApiError. `onnxlora serve` and the tests start it here.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using System.Text.Json;
using OnnxLora.Worker.Api;
using OnnxLora.Worker.Store;

namespace OnnxLora.Worker;

public static class WorkerHost
{
    public const string OpenApiPath = "/openapi.json";
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A ready-to-run host; its store is created and its tables exist.</summary>
    public static async Task<WebApplication> CreateAsync(string[] args, IReadOnlyDictionary<string, string?>? settings = null,
        CancellationToken ct = default)
    {
        OnnxLora.Onnx.Runtime.OrtTelemetry.DisableForProcess();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }
        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.ConfigureHttpJsonOptions(j => j.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        var o = builder.Configuration.GetSection(WorkerOptions.Section).Get<WorkerOptions>() ?? new WorkerOptions();
        o.RuntimeDefaults(); // a bad Worker:Runtime default fails at start, not at the first submission
        builder.WebHost.UseUrls(o.Urls);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = o.MaxBodyBytes);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = s_shutdownTimeout);
        var store = JobStoreFactory.Create(o);
        await store.InitializeAsync(ct);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(WorkerIdentity.From(o));
        builder.Services.AddHostedService<TrainingJobWorker>();
        builder.Services.AddOpenApi();
        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = ctx => WriteErrorAsync(ctx.Response, StatusCodes.Status500InternalServerError, "internal error; the worker's log has the details"),
        });
        app.UseStatusCodePages(ctx => ctx.HttpContext.Response.StatusCode >= 400
            ? WriteErrorAsync(ctx.HttpContext.Response, ctx.HttpContext.Response.StatusCode,
                ReasonPhrases.GetReasonPhrase(ctx.HttpContext.Response.StatusCode).ToLowerInvariant())
            : Task.CompletedTask);
        app.UseMiddleware<ApiKeyMiddleware>();
        JobEndpoints.Map(app);
        app.MapOpenApi(OpenApiPath);
        return app;
    }

    private static Task WriteErrorAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        return response.WriteAsJsonAsync(ApiError.Of(message));
    }
}
