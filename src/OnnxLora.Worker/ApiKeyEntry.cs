// One configured API key: the tenant it identifies and the SHA-256 (hex) of the bearer token.
// The token itself is never stored; ApiKeyHash computes the hash an operator puts here.
namespace OnnxLora.Worker;

public sealed class ApiKeyEntry
{
    public string Tenant { get; set; } = "";

    public string KeySha256 { get; set; } = "";
}
