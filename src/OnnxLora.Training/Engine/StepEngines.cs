// Picks the step engine for a device: CUDA always binds device memory (DeviceStepEngine); CPU uses
// the plain host-array StepEngine unless the IOBinding path is asked for (tests, A/B checks).
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Engine;

public static class StepEngines
{
    public static IStepEngine Create(TrainingArtifacts a, IReadOnlyDictionary<string, float[]> initial, string device, bool ioBinding = false) =>
        device == "cuda" || ioBinding
            ? new DeviceStepEngine(a.TrainingModelPath, a.FlatOptimizerModelPath, a.FlatAccumulateModelPath, a.Parameters, initial, device)
            : new StepEngine(a.TrainingModelPath, a.OptimizerModelPath, a.AccumulateModelPath, a.Parameters, initial, device);
}
