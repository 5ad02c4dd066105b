// Bearer-key authentication: every path but the probes (/health, /ready) needs "Authorization: Bearer <key>"
// whose SHA-256 matches a configured key; the key's tenant is then the only owner whose jobs the request can see.
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace OnnxLora.Worker.Api;

public sealed class ApiKeyMiddleware(RequestDelegate next, IOptions<WorkerOptions> options)
{
    public const string TenantItem = "onnxlora.tenant";
    private const string Scheme = "Bearer ";

    private readonly Dictionary<string, string> _tenants = options.Value.ApiKeys
        .Where(k => k.KeySha256.Length > 0 && k.Tenant.Length > 0)
        .ToDictionary(k => k.KeySha256.Trim().ToLowerInvariant(), k => k.Tenant);

    public async Task InvokeAsync(HttpContext ctx)
    {
        if (ctx.Request.Path.Equals("/health", StringComparison.OrdinalIgnoreCase) || ctx.Request.Path.Equals("/ready", StringComparison.OrdinalIgnoreCase))
        {
            await next(ctx);
            return;
        }
        string header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            || !_tenants.TryGetValue(ApiKeyHash.Of(header[Scheme.Length..].Trim()), out var tenant))
        {
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            ctx.Response.Headers.WWWAuthenticate = "Bearer";
            await ctx.Response.WriteAsJsonAsync(ApiError.Of("a valid bearer API key is required"), ctx.RequestAborted);
            return;
        }
        ctx.Items[TenantItem] = tenant;
        await next(ctx);
    }

    public static string TenantOf(HttpContext ctx) => (string)ctx.Items[TenantItem]!;
}
