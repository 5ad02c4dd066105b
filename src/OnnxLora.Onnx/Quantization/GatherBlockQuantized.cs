// The com.microsoft GatherBlockQuantized node for an int4 embedding, in the uint8 convention the GenAI builder uses
// for its tied int4 embedding (and MatMulNBits uses): data (vocab, hidden/2) uint8 with two codes per byte, low nibble
// first, scales (vocab, hidden/block), zero point 8 when there are no zero points; gather_axis 0, quantize_axis 1.
// Embedding row v is quantized exactly like MatMulNBits column n (Int4Quantizer with K = hidden, N = vocab).
// Names: "<weight>_Q4", "<weight>_scales", "<weight>_zero_points", node "<Gather node>_Q4".
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public static class GatherBlockQuantized
{
    public const string OpType = "GatherBlockQuantized";

    /// <summary>Initializer shapes (data, scales, zero points) of an embedding with <paramref name="layout"/> (K=hidden, N=vocab).</summary>
    public static (long[] Data, long[] Scales, long[] ZeroPoints) Dims(Int4BlockLayout layout) =>
        ([layout.N, layout.CodeBytesPerColumn], [layout.N, layout.BlocksPerColumn], [layout.N, layout.ZeroPointBytesPerColumn]);

    /// <summary>Null when an embedding of this hidden size can be stored this way, else why not.</summary>
    public static string? Check(Int4BlockLayout layout) =>
        layout.HasPartialBlock ? $"hidden size {layout.K} is not a multiple of the block size {layout.BlockSize}" : null;

    /// <summary>The node that replaces Gather(weight, indices) → output.</summary>
    public static Node CreateNode(string gatherNodeName, string weight, string indices, string output, Int4BlockLayout layout)
    {
        if (Check(layout) is { } reason)
        {
            throw new BadInputException($"embedding '{weight}': {reason}");
        }
        List<string> inputs = [MatMulNBits.CodesName(weight), indices, MatMulNBits.ScalesName(weight)];
        if (!layout.Symmetric)
        {
            inputs.Add(MatMulNBits.ZeroPointsName(weight));
        }
        var node = new Node(OpType, MatMulNBits.NodeName(gatherNodeName), inputs, [output], MatMulNBits.Domain);
        node.SetAttribute("bits", (long)Int4BlockLayout.Bits);
        node.SetAttribute("block_size", (long)layout.BlockSize);
        node.SetAttribute("gather_axis", 0L);
        node.SetAttribute("quantize_axis", 1L);
        return node;
    }
}
