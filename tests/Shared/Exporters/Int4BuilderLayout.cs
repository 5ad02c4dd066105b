// The model builder's -p int4 layout of a BuilderLayout model: each float MatMul whose weight the committed
// reference quantized (tests/data/int4, tools/torch-ref/int4_ref.py) becomes com.microsoft MatMulNBits as the
// builder's save step writes it (onnxruntime-genai a0c04eb builders/base.py to_nbits → ORT's MatMulNBitsQuantizer,
// QOperator format): node "<MatMul name>_Q4", inputs [A, <w>_Q4, <w>_scales] (+ <w>_zero_points when
// asymmetric), attributes K, N, accuracy_level (4, the CPU default), bits 4, block_size 32 in make_node's sorted
// order; the float weight is dropped. The lm_head stays float when excluded (nodes_to_exclude=/lm_head/MatMul).
// The codes are the reference's, so training can be compared with its dequantized-weight PyTorch run.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Testing;

public static class Int4BuilderLayout
{
    public const long BlockSize = 32;
    public const long CpuAccuracyLevel = 4;

    /// <summary>The quantized tensors of a variant: "sym" or "asym".</summary>
    public static string Tensors(string variant) => Path.Combine(TestPaths.RepoRoot, "tests", "data", "int4", $"quantized_{variant}.safetensors");

    /// <summary>Rewrites every quantizable MatMul of <paramref name="model"/> in place; returns the number converted.</summary>
    public static int Apply(Model model, string tensorsPath, bool quantizeLmHead, long accuracyLevel = CpuAccuracyLevel)
    {
        using var q = SafetensorsFile.Open(tensorsPath);
        var g = model.Graph;
        int converted = 0;
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            var n = g.Nodes[i];
            var w = n.Input(1);
            if (n.OpType != "MatMul" || n.Domain.Length != 0 || !q.Contains(w + "_Q4") || (!quantizeLmHead && w == "lm_head.MatMul.weight"))
            {
                continue;
            }
            var weight = g.Initializers[w]; // (K, N)
            long k = weight.Dims[0], nOut = weight.Dims[1];
            var names = new List<string> { w + "_Q4", w + "_scales" };
            if (q.Contains(w + "_zero_points"))
            {
                names.Add(w + "_zero_points");
            }
            foreach (var name in names)
            {
                var info = q.GetInfo(name);
                var type = name.EndsWith("_scales", StringComparison.Ordinal) ? weight.Type : ElementType.UInt8;
                var bytes = type == ElementType.Float || type == ElementType.UInt8 ? q.GetBytes(name).ToArray() : Convert(q.ReadAsFloat32(name), type);
                g.Initializers[name] = new Initializer(name, type, info.Shape.ToArray(), TensorData.FromBytes(bytes));
            }
            var node = new Node("MatMulNBits", n.Name + "_Q4", [n.Input(0), .. names], [n.Outputs[0]], Model.MicrosoftDomain);
            node.SetAttribute("K", k);
            node.SetAttribute("N", nOut);
            if (accuracyLevel != 0)
            {
                node.SetAttribute("accuracy_level", accuracyLevel);
            }
            node.SetAttribute("bits", 4L);
            node.SetAttribute("block_size", BlockSize);
            g.Nodes[i] = node;
            if (!g.Nodes.Any(m => m.Inputs.Contains(w)))
            {
                g.Initializers.Remove(w);
            }
            converted++;
        }
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        return converted;
    }

    private static byte[] Convert(float[] values, ElementType type)
    {
        var bytes = new byte[values.Length * type.SizeInBytes()];
        ElementConversion.FromFloat32(type, values, bytes);
        return bytes;
    }
}
