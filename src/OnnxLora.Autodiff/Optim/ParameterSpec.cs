// A trainable float32 tensor the optimizer graph updates: its graph name and fixed shape.
// The name is the stem of every per-parameter input and output (see OptimizerNames).
namespace OnnxLora.Autodiff.Optim;

public sealed record ParameterSpec(string Name, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
