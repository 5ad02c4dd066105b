// Knobs of GradientBuilder.AddGradients. The defaults leave the graph's declared outputs alone:
// the caller decides which gradients become outputs (a trainer usually wants all of them).
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OnnxLora.Autodiff;

public sealed record GradientOptions
{
    /// <summary>Also declare every returned gradient as a graph output (typed like its wrt value).</summary>
    public bool AddOutputs { get; init; }

    /// <summary>Name prefix of the backward nodes, so they read apart from the forward graph.</summary>
    public string Scope { get; init; } = "/grad/";

    /// <summary>
    /// True when the forward graph computes in fp16/bf16 (mixed precision): the rules' float32 constants are
    /// then emitted as CastLike(constant, gradient) so each takes the type of the value it meets. Off for fp32
    /// graphs, which stay exactly as before.
    /// </summary>
    public bool LowPrecision { get; init; }

    /// <summary>
    /// Name of a float32 scalar graph input that seeds d(loss)/d(loss) instead of 1 (dynamic loss scaling),
    /// or null. Every gradient is then scaled by it; the optimizer divides it out through grad_scale.
    /// </summary>
    public string? LossScaleInput { get; init; }

    /// <summary>
    /// Forward nodes whose outputs the backward pass recomputes instead of keeping alive from the forward pass
    /// (activation recomputation), or null to keep every value a rule reads. See <see cref="Rematerializer"/>.
    /// </summary>
    public Func<OnnxLora.Onnx.Ir.Node, bool>? Recompute { get; init; }

    /// <summary>
    /// dX of a MatMul by a constant weight reads the weight through a view, so ORT fuses the transpose into
    /// the MatMul (FusedMatMul transB) instead of constant-folding a transposed copy of every weight: one copy
    /// of the weights in memory. The training graphs turn it on for CUDA and for fp32 on CPU (a second,
    /// folded copy of a Llama-3.2-1B is 4.9 GB; docs/memory.md); off, the graph keeps ORT's folded form.
    /// </summary>
    public bool WeightTransposeViews { get; init; }

    /// <summary>
    /// Largest float32 piece of a frozen int4 weight (MatMulNBits) that dX dequantizes at once, in bytes: wider weights (the
    /// LM head, the MLP projections) are done in column chunks, one after another. 16 MiB by default: a chunk's
    /// dequantization keeps a few temporaries of about its size alive next to the saved activations, and at 64 MiB they
    /// left the CPU arena 150–180 MB larger at the Llama-3.2-1B shape (docs/qlora.md, Memory).
    /// </summary>
    public long Int4ChunkBytes { get; init; } = 16L << 20;

    /// <summary>
    /// Where the builder reports, at Debug level, where static shapes end: each gradient that needs a runtime
    /// broadcast reduction and each node whose output shape stays unknown. Silent by default.
    /// </summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;
}
