// The training graph's memory savers (config group "memory"): what the backward pass recomputes
// instead of storing, how the loss is chunked, and whether frozen weights are held once. None of them changes the computed values beyond
// summation order; see TrainingGraphOptions for what each does.
namespace OnnxLora.Training.Config;

public sealed record MemoryConfig
{
    /// <summary>Recompute each layer's attention probabilities in backward (no layers × T² storage).</summary>
    public bool RecomputeAttention { get; init; } = true;

    /// <summary>Query blocks of lowered attention: 1 one (B,H,T,T) score tensor per layer, N ≥ 2 blocks of T/N rows (none of T×T).</summary>
    public int AttentionBlocks { get; init; } = 1;

    /// <summary>Chunks of the loss along T; null picks 8 on cuda for vocabularies of 16384 or more, else 1.</summary>
    public int? LossChunks { get; init; }

    /// <summary>Recompute each loss chunk's logits in backward (less memory, one more LM-head MatMul per step).</summary>
    public bool RecomputeLogits { get; init; }

    /// <summary>Frozen weights held once (views, shared map); false: ORT's folded, prepacked copies (~2× weights); null: by device and dtype (TrainingGraphOptions).</summary>
    public bool? WeightViews { get; init; }
}
