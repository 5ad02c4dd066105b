// An in-process worker host on a loopback port (SQLite in a temp data folder, roots from TinyWorld) with
// two tenants, and HTTP clients that carry each tenant's key. Shared by the API test class.
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;

namespace OnnxLora.Worker.Tests;

public sealed class ApiHost : IAsyncLifetime
{
    public const string KeyA = "key-of-tenant-a";
    public const string KeyB = "key-of-tenant-b";
    public const string KeyQ = "key-of-tenant-q";
    public const int Quota = 4;
    public const long MaxBodyBytes = 16 * 1024;

    private readonly TempDir _dir = new();
    private WebApplication? _app;

    public string DataDir => _dir.Path;

    public HttpClient Anonymous { get; } = new();

    public HttpClient A { get; } = new();

    public HttpClient B { get; } = new();

    /// <summary>A tenant that only the quota test uses.</summary>
    public HttpClient Q { get; } = new();

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Worker:Urls"] = "http://127.0.0.1:0",
            ["Worker:DataDir"] = _dir.Path,
            ["Worker:ModelRoots:0"] = TinyWorld.ModelRoot,
            ["Worker:DatasetRoots:0"] = TinyWorld.DatasetRoot,
            ["Worker:ApiKeys:0:Tenant"] = "a",
            ["Worker:ApiKeys:0:KeySha256"] = ApiKeyHash.Of(KeyA),
            ["Worker:ApiKeys:1:Tenant"] = "b",
            ["Worker:ApiKeys:1:KeySha256"] = ApiKeyHash.Of(KeyB),
            ["Worker:ApiKeys:2:Tenant"] = "q",
            ["Worker:ApiKeys:2:KeySha256"] = ApiKeyHash.Of(KeyQ),
            ["Worker:Limits:MaxActiveJobsPerTenant"] = Quota.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Worker:MaxBodyBytes"] = MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Worker:PollSeconds"] = "0.1",
            ["Worker:LeaseSeconds"] = "3",
            ["Worker:HeartbeatSeconds"] = "0.3",
        };
        _app = await WorkerHost.CreateAsync([], settings);
        await _app.StartAsync();
        var baseUri = new Uri(_app.Urls.First());
        foreach (var (client, key) in new[] { (Anonymous, (string?)null), (A, KeyA), (B, KeyB), (Q, KeyQ) })
        {
            client.BaseAddress = baseUri;
            client.Timeout = TimeSpan.FromSeconds(60);
            if (key is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }
        }
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        Anonymous.Dispose();
        A.Dispose();
        B.Dispose();
        Q.Dispose();
        _dir.Dispose();
    }
}
