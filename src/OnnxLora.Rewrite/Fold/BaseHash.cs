// Fingerprint of the base weights an adapter was trained on: SHA-256 over the targeted weights'
// names, dtypes, shapes and bytes (sorted by name). The trainer stores it in the adapter's
// safetensors __metadata__; merge refuses an adapter whose fingerprint differs from the model's.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Fold;

public static class BaseHash
{
    public const string HashKey = "onnxlora.base_hash";
    public const string ShapesKey = "onnxlora.base_shapes";

    private const int ChunkBytes = 1 << 24;

    /// <summary>Hex SHA-256 over the named initializers of <paramref name="graph"/>.</summary>
    public static string Compute(Graph graph, IEnumerable<string> weights)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in weights.Distinct().Order(StringComparer.Ordinal))
        {
            if (!graph.Initializers.TryGetValue(name, out var w))
            {
                throw new ArgumentException($"base hash: the model has no weight '{name}'");
            }
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{w.Type.OnnxName()}|{string.Join(",", w.Dims)}\n"));
            var bytes = w.Data.Span;
            for (int done = 0; done < bytes.Length; done += ChunkBytes)
            {
                hash.AppendData(bytes.Slice(done, Math.Min(ChunkBytes, bytes.Length - done)));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Metadata entries an adapter should carry: the hash and the targeted weights' shapes (JSON).</summary>
    public static Dictionary<string, string> Metadata(Graph graph, IEnumerable<string> weights)
    {
        var list = weights.Distinct().Order(StringComparer.Ordinal).ToList();
        var shapes = new JsonObject();
        foreach (var name in list)
        {
            var dims = graph.Initializers.TryGetValue(name, out var w) ? w.Dims : [];
            shapes[name] = string.Join(",", dims.Select(d => d.ToString(CultureInfo.InvariantCulture)));
        }
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [HashKey] = Compute(graph, list),
            [ShapesKey] = shapes.ToJsonString(),
        };
    }
}
