// What the trainer and parity runner need from a step engine, whichever memory it keeps its state in:
// StepEngine (host arrays, plain Run) or DeviceStepEngine (allocator memory on CPU or CUDA, IOBinding).
namespace OnnxLora.Training.Engine;

public interface IStepEngine : IDisposable
{
    /// <summary>Optimizer steps taken so far (t of the bias correction).</summary>
    long StepCount { get; }

    float LastGradNorm { get; }

    bool LastStepFinite { get; }

    /// <summary>Runs forward + backward on one micro-batch and accumulates its gradients; returns its loss.</summary>
    float ForwardBackward(BatchTensors batch);

    /// <summary>Applies AdamW to the accumulated gradients; returns whether the step was applied (false: non-finite, skipped).</summary>
    bool OptimizerStep(float learningRate);

    Dictionary<string, float[]> Parameters();

    (Dictionary<string, float[]> ExpAvg, Dictionary<string, float[]> ExpAvgSq) Moments();

    Dictionary<string, float[]> Gradients();

    void Restore(IReadOnlyDictionary<string, float[]> p, IReadOnlyDictionary<string, float[]> m, IReadOnlyDictionary<string, float[]> v, long step);
}
