// Training met a NaN/inf loss: it stops before the optimizer touches the weights, naming the step
// and the last good checkpoint (kept on disk), so nothing written earlier is lost.
using OnnxLora.Onnx;

namespace OnnxLora.Training.Run;

public sealed class NonFiniteLossException(int step, float loss, string? lastCheckpoint)
    : OnnxLoraException($"non-finite loss ({loss}) at step {step}; stopped before updating weights" +
        (lastCheckpoint is null ? "" : $"; last good checkpoint: {lastCheckpoint}"))
{
    public int Step { get; } = step;
}
