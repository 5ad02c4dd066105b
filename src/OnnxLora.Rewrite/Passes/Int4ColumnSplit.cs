// Training graphs: a MatMulNBits whose weight dequantized to float32 (K·N·4 bytes) is wider than a limit (the LM head:
// 1 GB at Llama-3.2-1B) becomes column groups, each a MatMulNBits over an N-range of the same codes, scales and zero
// points, joined by Concat on the last axis. Sessions over shared weights run with prepacking off, and then ORT's CPU
// kernel dequantizes the whole B into a K·N float32 buffer on every call; split, the largest such buffer is one
// group's. The ranges are contiguous in the builder's layout (codes (N,kb,blob), scales N·kb, zero points N·⌈kb/2⌉,
// row-major in N), so a group's initializers are slices of the stored ones: external data is referenced at an offset,
// never copied. It does not touch narrower nodes, GatherBlockQuantized, or models meant for inference.
// K=in features, N=out features, kb=blocks per column, blob=block_size/2
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Rewrite.Passes;

public static class Int4ColumnSplit
{
    /// <summary>Largest float32 weight one MatMulNBits of a training graph's forward dequantizes at once (dX has its own, smaller chunks: GradientOptions.Int4ChunkBytes).</summary>
    public const long DefaultMaxFloatBytes = 64L << 20;

    public static PassResult Run(Model model, long maxFloatBytes = DefaultMaxFloatBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFloatBytes, 1L);
        var g = model.Graph;
        bool modified = false;
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var node = g.Nodes[i];
            if (!MatMulNBits.Is(node))
            {
                continue;
            }
            var w = MatMulNBitsWeight.Read(g, node, "model");
            long k = w.Layout.K, n = w.Layout.N;
            if (k * n * sizeof(float) <= maxFloatBytes)
            {
                continue;
            }
            long most = Math.Max(1, maxFloatBytes / (k * sizeof(float))); // columns per group at the limit
            long groups = (n + most - 1) / most;
            long width = (n + groups - 1) / groups; // balanced groups, each ≤ the limit
            var parts = new List<string>();
            var replacement = new List<Node>();
            for (long n0 = 0; n0 < n; n0 += width)
            {
                long n1 = Math.Min(n, n0 + width);
                var inputs = new List<string>
                {
                    node.Input(0),
                    Slice(g, w.Codes, n, n0, n1),
                    Slice(g, w.Scales, n, n0, n1),
                };
                if (w.ZeroPoints is { } zp)
                {
                    inputs.Add(Slice(g, zp, n, n0, n1));
                }
                var output = g.UniqueName($"{node.Outputs[0]}/cols{n0}");
                var part = new Node(node.OpType, g.UniqueName($"{node.Name}/cols{n0}"), inputs, [output], node.Domain);
                part.Proto.Attribute.AddRange(node.Proto.Attribute.Select(a => a.Clone()));
                part.SetAttribute("N", n1 - n0);
                replacement.Add(part);
                parts.Add(output);
            }
            replacement.Add(new Node("Concat", g.UniqueName($"{node.Name}/cols"), parts, [node.Outputs[0]]).SetAttribute("axis", -1L)); // (...,N)
            replaced.UnionWith(node.Inputs.Skip(1).Where(x => x.Length > 0));
            g.Nodes.RemoveAt(i);
            g.Nodes.InsertRange(i, replacement);
            i += replacement.Count - 1;
            modified = true;
        }
        // the whole-width tensors, unless something else (e.g. a tied GatherBlockQuantized embedding) still reads them
        var read = g.Nodes.SelectMany(x => x.Inputs).ToHashSet(StringComparer.Ordinal);
        foreach (var name in replaced.Where(x => !read.Contains(x) && !g.IsGraphInput(x)))
        {
            g.Initializers.Remove(name);
        }
        return new PassResult(model, modified);
    }

    // Columns [n0, n1) of an initializer laid out row-major in N: codes keep their (N,kb,blob) form, scales and zero
    // points are flat (MatMulNBits takes (N·kb) or (N,kb)). An external slice at an offset when the bytes live in a
    // file, else a copy of those bytes. One initializer per (tensor, range), shared by every node that asks for it.
    private static string Slice(Graph g, Initializer t, long n, long n0, long n1)
    {
        string name = $"{t.Name}/cols{n0}-{n1}";
        if (g.Initializers.ContainsKey(name))
        {
            return name;
        }
        long perColumn = t.ElementCountValue / n * t.Type.SizeInBytes(); // bytes
        long[] dims = t.Dims.Length == 3 ? [n1 - n0, .. t.Dims[1..]] : [t.ElementCountValue / n * (n1 - n0)];
        long offset = n0 * perColumn, length = (n1 - n0) * perColumn;
        var data = t.Data is ExternalTensorData ext
            ? TensorData.FromFile(ext.FilePath, ext.Offset + offset, length)
            : TensorData.FromBytes(t.Data.Span.Slice(checked((int)offset), checked((int)length)).ToArray());
        g.AddInitializer(new Initializer(name, t.Type, dims, data));
        return name;
    }
}
