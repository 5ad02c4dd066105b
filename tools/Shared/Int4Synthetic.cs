// Benchmark support: turns every MatMul over a 2-D float weight "<w>" of a generated Llama graph into the model
// builder's -p int4 form (com.microsoft MatMulNBits, block 32, codes <w>_Q4 (N, K/32, 16) uint8, scales <w>_scales
// (N·K/32) in the weight's dtype, zero points when asymmetric), with seeded random codes and small scales generated
// when written. It sizes and lays out int4 weights for memory and speed measurements; it does not quantize a real
// weight (that is OnnxLora.Onnx.Quantization's job) and its values mean nothing.
using OnnxLora.Onnx.Ir;

internal static class Int4Synthetic
{
    public const long BlockSize = 32;

    /// <summary>Converts in place; returns the number of weights made int4.</summary>
    public static int Apply(Model model, bool symmetric, int seed)
    {
        var g = model.Graph;
        int converted = 0;
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var n = g.Nodes[i];
            if (n.OpType != "MatMul" || n.Domain.Length != 0 || !g.Initializers.TryGetValue(n.Input(1), out var w) || w.Dims.Length != 2
                || !w.Type.IsFloating() || g.Nodes.Count(m => m.Inputs.Contains(w.Name)) != 1)
            {
                continue;
            }
            long k = w.Dims[0], nOut = w.Dims[1], kb = (k + BlockSize - 1) / BlockSize;
            int s = seed + converted;
            var inputs = new List<string>
            {
                n.Input(0),
                Add(g, w.Name + "_Q4", ElementType.UInt8, [nOut, kb, BlockSize / 2], s, RandomBytes),
                Add(g, w.Name + "_scales", w.Type, [nOut * kb], s, (rng, buf) => Scales(rng, buf, w.Type)),
            };
            if (!symmetric)
            {
                inputs.Add(Add(g, w.Name + "_zero_points", ElementType.UInt8, [nOut * ((kb + 1) / 2)], s, RandomBytes));
            }
            var q = new Node("MatMulNBits", n.Name + "_Q4", inputs, [n.Outputs[0]], Model.MicrosoftDomain);
            q.SetAttribute("K", k);
            q.SetAttribute("N", nOut);
            q.SetAttribute("bits", 4L);
            q.SetAttribute("block_size", BlockSize);
            g.Nodes[i] = q;
            g.Initializers.Remove(w.Name);
            converted++;
        }
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        return converted;
    }

    private static string Add(Graph g, string name, ElementType type, long[] dims, int seed, Action<Random, byte[]> fill)
    {
        long bytes = Initializer.ElementCount(dims) * type.SizeInBytes();
        g.Initializers[name] = new Initializer(name, type, dims, TensorData.FromGenerator(bytes, stream =>
        {
            var rng = new Random(seed);
            var buf = new byte[1 << 20];
            for (long done = 0; done < bytes; done += buf.Length)
            {
                int len = (int)Math.Min(buf.Length, bytes - done);
                fill(rng, buf);
                stream.Write(buf, 0, len);
            }
        }));
        return name;
    }

    private static void RandomBytes(Random rng, byte[] buf) => rng.NextBytes(buf);

    // Scales around 0.02/8, so weights stay in a normal init's range (|w| ≲ 0.02).
    private static void Scales(Random rng, byte[] buf, ElementType type)
    {
        int size = type.SizeInBytes();
        var values = new float[buf.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = 0.0025f * (0.5f + (float)rng.NextDouble());
        }
        ElementConversion.FromFloat32(type, values, buf.AsSpan(0, values.Length * size));
    }
}
