// What `merge --quantize int4` (and `quantize`) did: how many weights were quantized from float, requantized after a
// fold onto an int4 base (with the error that added), copied as int4 or kept float (--exclude), and the adapter
// targets folded.
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public sealed record Int4MergeReport(
    IReadOnlyList<LoraTarget> Targets,
    IReadOnlyList<string> Quantized,
    IReadOnlyList<string> Requantized,
    IReadOnlyList<string> KeptInt4,
    IReadOnlyList<string> KeptFloat,
    float RequantizationMaxAbsError,
    float RequantizationMaxStep);
