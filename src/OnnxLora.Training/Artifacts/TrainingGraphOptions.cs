// What the artifact builder should produce from a GenAI-layout model.
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Artifacts;

public sealed record TrainingGraphOptions
{
    /// <summary>LoRA settings; null gives the plain base model (eval) or, with <see cref="FullFineTune"/>, trains every weight.</summary>
    public LoraSettings? Lora { get; init; } = new();

    public bool FullFineTune { get; init; }

    /// <summary>Dropout and gradients (training) versus a plain loss/logits graph (eval).</summary>
    public bool Training { get; init; } = true;

    public bool OutputLogits { get; init; }

    /// <summary>
    /// Dynamic loss scaling (mixed precision): the training graph takes a float32 scalar input
    /// <see cref="LossScaleInput"/> that seeds the backward pass; gradients come out multiplied by it.
    /// </summary>
    public bool LossScaling { get; init; }

    /// <summary>
    /// Recompute the forward values marked recomputable (each layer's attention scores and probabilities) in
    /// the backward pass instead of storing them: activation memory no longer grows with layers × T².
    /// </summary>
    public bool Recompute { get; init; } = true;

    /// <summary>
    /// Query blocks of a lowered GroupQueryAttention: 1 builds one (B,H,T,T) score tensor per layer; N ≥ 2 builds
    /// N blocks of T/N rows, each against the keys its rows can see, so no (B,H,T,T) tensor exists (forward or,
    /// with <see cref="Recompute"/>, backward). Attention already in standard ops (torch exports) is not re-blocked.
    /// </summary>
    public int AttentionBlocks { get; init; } = 1;

    /// <summary>
    /// Chunks of the causal-LM loss along T (null: on cuda 8 for vocabularies of 16384 or more, else 1). Graphs
    /// that output logits keep one chunk. See <see cref="OnnxLora.Autodiff.Loss.CausalLmLoss"/>.
    /// </summary>
    public int? LossChunks { get; init; }

    /// <summary>Recompute each loss chunk's logits in the backward pass instead of keeping them (one more LM-head MatMul per step).</summary>
    public bool RecomputeLogits { get; init; }

    /// <summary>
    /// Device the graphs are built for. On Cuda a frozen weight's gradient MatMul reads the weight through a
    /// view (no transposed copy of the weights in device memory; see GradientOptions), and the loss is chunked
    /// by default for large vocabularies.
    /// </summary>
    public Device Device { get; init; } = Device.Cpu;

    public const string LossScaleInput = "loss_scale";
}
