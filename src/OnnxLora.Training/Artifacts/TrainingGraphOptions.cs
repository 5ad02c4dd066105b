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
    /// Largest float32 weight (K·N·4 bytes) one int4 MatMulNBits dequantizes in the forward pass: wider ones (the LM
    /// head) run in column groups over slices of the same codes (<see cref="OnnxLora.Rewrite.Passes.Int4ColumnSplit"/>).
    /// </summary>
    public long Int4GroupBytes { get; init; } = OnnxLora.Rewrite.Passes.Int4ColumnSplit.DefaultMaxFloatBytes;

    /// <summary>Device the graphs are built for. On Cuda the loss is chunked by default for large vocabularies.</summary>
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>
    /// A frozen weight's input-gradient MatMul reads the weight through a view, so ORT fuses the transpose
    /// (FusedMatMul transB) instead of constant-folding a transposed copy of every weight: one copy of the weights.
    /// On CPU the sessions then also share one memory map of the weights (SharedWeights, no prepacking). False
    /// keeps ORT's folded, prepacked layout: about twice the weights in memory (Llama-3.2-1B LoRA 1×256 fp32:
    /// 10.8 vs 6.1 GB peak RSS; docs/memory.md). Null (default): on for CUDA and for fp32 graphs on CPU; off for
    /// 16-bit graphs on CPU, where ORT has no fused fp16 kernel and the view form moved the fp16 test trajectory
    /// past its tolerance (1.2e-3 vs 1e-3).
    /// </summary>
    public bool? WeightViews { get; init; }

    /// <summary>Whether a graph computing in <paramref name="computeType"/> reads frozen weights through views (see <see cref="WeightViews"/>).</summary>
    public bool WeightViewsFor(OnnxLora.Onnx.Ir.ElementType computeType) =>
        WeightViews ?? (Device == Device.Cuda || computeType == OnnxLora.Onnx.Ir.ElementType.Float);

    public const string LossScaleInput = "loss_scale";
}
