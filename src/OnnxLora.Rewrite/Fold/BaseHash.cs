// Fingerprint of the base weights an adapter was trained on: SHA-256 over the targeted modules, each as
// "<name>|<dtype>|<in>,<out>\n" + its weight in [in,out] row-major order, sorted by name. The name is the
// module's weight name in our import's layout (AdapterTargets.WeightOf), so the same checkpoint gives the
// same hash whether its weights are separate or packed (the builder's qkv_proj), [in,out] or HF [out,in],
// named by the builder or by torch.onnx; for our import it is the hash earlier versions wrote. The dtype
// stays in: an fp16 copy of a base is another base. So does int4 storage: a MatMulNBits weight is hashed as its
// stored blocks (codes, scales, zero points of the module's output columns), so an int4 base and its float
// original are different bases, while a packed or separate int4 layout of the same blocks hash alike. The trainer stores the hash in the adapter's
// safetensors __metadata__; merge refuses an adapter whose fingerprint differs from the model's.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public static class BaseHash
{
    public const string HashKey = "onnxlora.base_hash";
    public const string ShapesKey = "onnxlora.base_shapes";

    private const int ChunkBytes = 1 << 24;

    /// <summary>Hex SHA-256 over the weights of <paramref name="layers"/> in <paramref name="graph"/>.</summary>
    public static string Compute(Graph graph, IEnumerable<LinearLayer> layers)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, layer) in Canonical(layers))
        {
            if (layer.IsInt4)
            {
                AppendInt4(hash, name, MatMulNBitsWeight.Read(graph, LinearDiscovery.NodeOf(graph, layer), "base hash"), layer);
                continue;
            }
            if (!graph.Initializers.TryGetValue(layer.Weight, out var w))
            {
                throw new BadInputException($"base hash: the model has no weight '{layer.Weight}' ({layer.Module})");
            }
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}|{w.Type.OnnxName()}|{layer.In},{layer.Out}\n"));
            AppendInOut(hash, w, layer);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Metadata entries an adapter should carry: the hash and the targeted weights' [in,out] shapes (JSON).</summary>
    public static Dictionary<string, string> Metadata(Graph graph, IEnumerable<LinearLayer> layers)
    {
        var list = Canonical(layers);
        var shapes = new JsonObject();
        foreach (var (name, layer) in list)
        {
            shapes[name] = string.Create(CultureInfo.InvariantCulture, $"{layer.In},{layer.Out}");
        }
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [HashKey] = Compute(graph, list.Select(x => x.Layer)),
            [ShapesKey] = shapes.ToJsonString(),
        };
    }

    private static List<(string Name, LinearLayer Layer)> Canonical(IEnumerable<LinearLayer> layers) =>
        layers.DistinctBy(l => l.Module).Select(l => (AdapterTargets.WeightOf(l.Module) ?? l.Module, l))
            .OrderBy(x => x.Item1, StringComparer.Ordinal).ToList();

    // The module's W as [in,out] rows: the stored bytes as they are when the weight is whole and [in,out],
    // else gathered per row (a column slice of a packed weight; a column of an [out,in] weight).
    private static void AppendInOut(IncrementalHash hash, Initializer w, LinearLayer layer)
    {
        var bytes = w.Data.Span;
        int elem = w.Type.SizeInBytes();
        if (!layer.StoredOutIn && !layer.IsSlice)
        {
            for (int done = 0; done < bytes.Length; done += ChunkBytes)
            {
                hash.AppendData(bytes.Slice(done, Math.Min(ChunkBytes, bytes.Length - done)));
            }
            return;
        }
        int inF = (int)layer.In, outF = (int)layer.Out, offset = (int)layer.Offset, stored = (int)w.Dims[1];
        var row = new byte[outF * elem];
        for (int i = 0; i < inF; i++)
        {
            if (!layer.StoredOutIn)
            {
                hash.AppendData(bytes.Slice(((i * stored) + offset) * elem, outF * elem));
                continue;
            }
            for (int o = 0; o < outF; o++)
            {
                bytes.Slice((((offset + o) * stored) + i) * elem, elem).CopyTo(row.AsSpan(o * elem, elem));
            }
            hash.AppendData(row);
        }
    }

    // An int4 module: "<name>|int4:<scale dtype>|<in>,<out>|block <bs>, sym/asym" + for its output columns n (all, or
    // its packed slice) the codes (N, kb, bs/2), the scales (N·kb) and the zero points (N·ceil(kb/2)), column-major
    // as MatMulNBits stores them.
    private static void AppendInt4(IncrementalHash hash, string name, MatMulNBitsWeight w, LinearLayer layer)
    {
        var l = w.Layout;
        hash.AppendData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{name}|int4:{w.ScaleType.OnnxName()}|{layer.In},{layer.Out}|block {l.BlockSize},{(l.Symmetric ? "sym" : "asym")}\n")));
        long n0 = layer.Offset, n = layer.Out;
        AppendRange(hash, w.Codes.Data.Span, n0 * l.CodeBytesPerColumn, n * l.CodeBytesPerColumn);
        int scaleBytes = w.ScaleType.SizeInBytes() * l.BlocksPerColumn;
        AppendRange(hash, w.Scales.Data.Span, n0 * scaleBytes, n * scaleBytes);
        if (w.ZeroPoints is { } zp)
        {
            AppendRange(hash, zp.Data.Span, n0 * l.ZeroPointBytesPerColumn, n * l.ZeroPointBytesPerColumn);
        }
    }

    private static void AppendRange(IncrementalHash hash, ReadOnlySpan<byte> bytes, long start, long length)
    {
        for (long done = 0; done < length; done += ChunkBytes)
        {
            hash.AppendData(bytes.Slice(checked((int)(start + done)), (int)Math.Min(ChunkBytes, length - done)));
        }
    }
}
