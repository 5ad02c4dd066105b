// One adaptable linear layer of a graph, as LinearDiscovery finds it: the Hugging Face module it stands
// for, the node computing x·W, the frozen weight initializer and how it is stored, and for packed
// weights (the builder's qkv_proj) the column slice [Offset, Offset+Out) of the node's output it owns.
// It holds names and sizes only, never weight bytes.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

/// <param name="Module">HF module path, e.g. model.layers.0.self_attn.q_proj or lm_head.</param>
/// <param name="Node">Name of the MatMul/Gemm node computing x·W (input 0 is x).</param>
/// <param name="Weight">Initializer holding W; for <see cref="WeightLayout.Int4"/> the float name its codes (`_Q4`), scales and zero points derive from.</param>
/// <param name="Layout">How W is stored and read.</param>
/// <param name="In">Input features.</param>
/// <param name="Out">Output features of this module (its slice width).</param>
/// <param name="Offset">First output column of this module in the node's output (0 unless packed).</param>
/// <param name="Columns">The node's whole output width (= Out unless packed).</param>
/// <param name="Type">W's element type (for int4: its scales' float type, the type it dequantizes to).</param>
/// <param name="View">The Transpose node between W and the MatMul (OutInTransposed), else null.</param>
public sealed record LinearLayer(string Module, string Node, string Weight, WeightLayout Layout, long In, long Out,
    long Offset, long Columns, ElementType Type, string? View = null)
{
    /// <summary>True when this module owns only a column slice of its node's output (packed Q/K/V).</summary>
    public bool IsSlice => Out != Columns;

    /// <summary>W is stored [out, in] (HF layout) rather than ONNX's usual [in, out].</summary>
    public bool StoredOutIn => Layout is WeightLayout.OutInTransposed or WeightLayout.GemmOutIn;

    /// <summary>W is int4 MatMulNBits blocks (codes, scales, zero points), not a float initializer.</summary>
    public bool IsInt4 => Layout == WeightLayout.Int4;

    /// <summary>The node that reads the weight initializer directly (the Transpose for a transposed view).</summary>
    public string Reader => View ?? Node;
}
