// How to quantize weights to int4 MatMulNBits. The defaults are the GenAI model builder's for `-p int4 -e cpu`:
// round-to-nearest, block 32, symmetric (no zero points), accuracy_level 4.
namespace OnnxLora.Onnx.Quantization;

public sealed record Int4QuantizeOptions
{
    public int BlockSize { get; init; } = Int4BlockLayout.DefaultBlockSize;

    /// <summary>False writes one zero point per block (the builder's is_symmetric=false).</summary>
    public bool Symmetric { get; init; } = true;

    /// <summary>MatMulNBits' accuracy_level: an inference setting (4 lets the CPU kernel quantize activations to int8).</summary>
    public int AccuracyLevel { get; init; } = MatMulNBits.BuilderCpuAccuracyLevel;

    /// <summary>
    /// A weight whose K the block size does not divide is refused unless this is set; then its last block is zero-padded
    /// past K, as the builder's quantizer pads it.
    /// </summary>
    public bool PadPartialBlocks { get; init; }

    /// <summary>
    /// Also store float embeddings (Gather of a 2-D weight) as their own int4 GatherBlockQuantized. Off by default, as
    /// in the builder for tied and untied models alike: its `-p int4` keeps the embedding a float Gather and quantizes
    /// lm_head separately (onnxruntime-genai a0c04eb, builders/base.py Model.make_tied_embeddings_init: a shared
    /// GatherBlockQuantized only with shared_embeddings=true and "Gather" in op_types_to_quantize; quant_config.py
    /// WeightsConfig: op_types ("MatMul",) by default).
    /// </summary>
    public bool QuantizeEmbedding { get; init; }

    /// <summary>
    /// Weights to keep in float, by weight or node name (the builder's nodes_to_exclude, e.g. /lm_head/MatMul or
    /// lm_head.MatMul.weight). A name that matches nothing is an error.
    /// </summary>
    public IReadOnlySet<string> Exclude { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Null when the options are usable, else why not (one line).</summary>
    public string? Check() =>
        Int4BlockLayout.CheckBlockSize(BlockSize)
        ?? (AccuracyLevel is < 0 or > 4 ? $"accuracy_level {AccuracyLevel} is not one of 0..4 (MatMulNBits)" : null);
}
