// How the CUDA provider's memory arena grows when it needs more (ORT's arena_extend_strategy).
// Written as "same_as_requested" / "next_power_of_two" in config files (RuntimeNames).
namespace OnnxLora.Onnx.Runtime;

public enum CudaArenaStrategy
{
    /// <summary>Grow by what is requested (our default: ORT's power-of-two rounding can reach 2× a training step's peak).</summary>
    SameAsRequested,

    /// <summary>ORT's own default (kNextPowerOfTwo).</summary>
    NextPowerOfTwo,
}
