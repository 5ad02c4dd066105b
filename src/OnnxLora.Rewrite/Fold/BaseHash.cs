// Fingerprint of the base weights an adapter was trained on: SHA-256 over the targeted weights'
// names, dtypes, shapes and bytes (sorted by name). A weight stored int4 (MatMulNBits) is hashed as
// its stored tensors (<w>_Q4, <w>_scales, <w>_zero_points), so an int4 base and its float original
// differ. The trainer stores it in the adapter's safetensors __metadata__; merge refuses an adapter
// whose fingerprint differs from the model's.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

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
        foreach (var w in weights.Distinct().Order(StringComparer.Ordinal).SelectMany(name => Storage(graph, name)))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{w.Name}|{w.Type.OnnxName()}|{string.Join(",", w.Dims)}\n"));
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
            var dims = graph.Initializers.TryGetValue(name, out var w) ? w.Dims
                : graph.Initializers.TryGetValue(MatMulNBits.CodesName(name), out var codes) ? codes.Dims : [];
            shapes[name] = string.Join(",", dims.Select(d => d.ToString(CultureInfo.InvariantCulture)));
        }
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [HashKey] = Compute(graph, list),
            [ShapesKey] = shapes.ToJsonString(),
        };
    }

    /// <summary>The initializers that hold weight <paramref name="name"/>: itself, or its int4 codes, scales and zero points.</summary>
    private static IEnumerable<Initializer> Storage(Graph graph, string name)
    {
        if (graph.Initializers.TryGetValue(name, out var w))
        {
            return [w];
        }
        if (graph.Initializers.TryGetValue(MatMulNBits.CodesName(name), out var codes))
        {
            return new[] { MatMulNBits.ScalesName(name), MatMulNBits.ZeroPointsName(name) }
                .Select(n => graph.Initializers.GetValueOrDefault(n)).OfType<Initializer>().Prepend(codes).ToList();
        }
        throw new ArgumentException($"base hash: the model has no weight '{name}'");
    }
}
