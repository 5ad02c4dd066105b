// A value the trainer owns and updates: a LoRA A/B, or (full fine-tune) a lifted base weight
// whose initial value is the former initializer.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Artifacts;

public sealed record TrainableParameter(string Name, long[] Shape, Initializer? Initial)
{
    public long ElementCount => Initializer.ElementCount(Shape);
}
