// The com.microsoft MatMulNBits node as the GenAI model builder (ORT's MatMulNBitsQuantizer, QOperator format) writes
// it: node "<MatMul node>_Q4", inputs [A, "<w>_Q4", "<w>_scales"] plus "<w>_zero_points" only when asymmetric,
// attributes K, N, bits, block_size and accuracy_level only when non-zero. Names and node creation live here;
// reading a node back is MatMulNBitsWeight, quantizing is Int4Quantizer.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public static class MatMulNBits
{
    public const string OpType = "MatMulNBits";
    public const string Domain = Model.MicrosoftDomain;

    /// <summary>Input slots: A, B (codes), scales, zero_points, g_idx, bias.</summary>
    public const int CodesInput = 1;
    public const int ScalesInput = 2;
    public const int ZeroPointsInput = 3;
    public const int GroupIndexInput = 4;
    public const int BiasInput = 5;

    /// <summary>The builder's default on cpu/webgpu (0 elsewhere); an inference setting, not part of the data.</summary>
    public const int BuilderCpuAccuracyLevel = 4;

    public static string CodesName(string weight) => weight + "_Q4";

    public static string ScalesName(string weight) => weight + "_scales";

    public static string ZeroPointsName(string weight) => weight + "_zero_points";

    /// <summary>"&lt;MatMul node&gt;_Q4"; an unnamed MatMul gives an unnamed node, as in the builder.</summary>
    public static string NodeName(string matMulNode) => matMulNode.Length == 0 ? "" : matMulNode + "_Q4";

    public static bool Is(Node node) => node.OpType == OpType && node.Domain == Domain;

    /// <summary>The node the builder writes in place of MatMul(input, weight) → output.</summary>
    public static Node CreateNode(string matMulNodeName, string input, string weight, string output, Int4BlockLayout layout, int accuracyLevel)
    {
        if (accuracyLevel is < 0 or > 4)
        {
            throw new BadInputException($"accuracy_level {accuracyLevel} is not one of 0..4 (MatMulNBits)");
        }
        List<string> inputs = [input, CodesName(weight), ScalesName(weight)];
        if (!layout.Symmetric)
        {
            inputs.Add(ZeroPointsName(weight));
        }
        var node = new Node(OpType, NodeName(matMulNodeName), inputs, [output], Domain);
        // onnx.helper.make_node sorts keyword attributes by name: K, N, accuracy_level, bits, block_size.
        node.SetAttribute("K", (long)layout.K);
        node.SetAttribute("N", (long)layout.N);
        if (accuracyLevel != 0)
        {
            node.SetAttribute("accuracy_level", (long)accuracyLevel);
        }
        node.SetAttribute("bits", (long)Int4BlockLayout.Bits);
        node.SetAttribute("block_size", (long)layout.BlockSize);
        return node;
    }
}
