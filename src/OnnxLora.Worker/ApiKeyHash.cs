// SHA-256 hex of a bearer token, the form in which keys are configured and compared.
// Comparison is of hashes, so a timing difference reveals nothing about a stored token.
using System.Security.Cryptography;
using System.Text;

namespace OnnxLora.Worker;

public static class ApiKeyHash
{
    public static string Of(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
}
