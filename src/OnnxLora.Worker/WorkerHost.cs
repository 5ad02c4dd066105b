// Builds the worker service: configuration (Worker section), the job store, the background worker,
// Kestrel on loopback by default with a body-size limit, bearer-key middleware, the API and OpenAPI.
// `onnxlora serve` and the tests both start it through here.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
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
        app.UseMiddleware<ApiKeyMiddleware>();
        JobEndpoints.Map(app);
        app.MapOpenApi(OpenApiPath);
        return app;
    }
}
