// Creates ORT sessions the same way everywhere: CPU (default) or CUDA, full graph optimisation,
// threads sized to the machine. CUDA needs the GPU build of ORT; asking for it without one is a
// clear error, not a silent fallback to CPU.
using Microsoft.ML.OnnxRuntime;

namespace OnnxLora.Training.Runtime;

public static class SessionFactory
{
    public static InferenceSession Create(string modelPath, string device = "cpu", int intraOpThreads = 0)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads,
        };
        if (device == "cuda")
        {
            try
            {
                options.AppendExecutionProvider_CUDA(0);
            }
            catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                throw new InvalidOperationException(
                    $"--device cuda: this build of ONNX Runtime has no CUDA provider ({e.Message}); build with -p:OnnxLoraCuda=true", e);
            }
        }
        else if (device != "cpu")
        {
            throw new ArgumentException($"unknown device '{device}' (cpu, cuda)");
        }
        return new InferenceSession(modelPath, options);
    }
}
