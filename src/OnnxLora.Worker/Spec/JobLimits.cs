// Checks a parsed training config and its dataset against the server-wide caps (Worker:Limits) before a job is
// queued: a request over a limit is refused naming the limit and its value. The device is checked where the job
// runs (the node that takes a submission need not be the one with the GPU): a device its build lacks fails the
// job once, as a permanent error, instead of on every retry.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Config;

namespace OnnxLora.Worker.Spec;

public static class JobLimits
{
    private const string CudaProvider = "CUDAExecutionProvider";

    private static readonly Lazy<IReadOnlyList<Device>> s_devices = new(() =>
        OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider) ? [Device.Cpu, Device.Cuda] : [Device.Cpu]);

    /// <summary>The devices this build of ONNX Runtime can train on.</summary>
    public static IReadOnlyList<Device> AvailableDevices => s_devices.Value;

    public static void Check(TrainConfig c, string dataset, WorkerLimits limits)
    {
        Cap("config.lora.r", c.Lora.R, limits.MaxRank, nameof(WorkerLimits.MaxRank));
        Cap("config.max_steps", c.MaxSteps ?? 0, limits.MaxSteps, nameof(WorkerLimits.MaxSteps));
        Cap("config.epochs", c.MaxSteps is null ? c.Epochs : 0, limits.MaxEpochs, nameof(WorkerLimits.MaxEpochs));
        Int128 tokens = (Int128)c.BatchSize * c.GradAccum * c.MaxSeqLen; // each factor < 2^31: no overflow in 128 bits
        if (limits.MaxTokensPerStep > 0 && tokens > limits.MaxTokensPerStep)
        {
            throw new JobSpecException("config.max_seq_len",
                $"batch_size × grad_accum × max_seq_len = {c.BatchSize} × {c.GradAccum} × {c.MaxSeqLen} = {tokens} tokens per step, " +
                $"over the server limit {WorkerLimits.Key(nameof(WorkerLimits.MaxTokensPerStep))} = {limits.MaxTokensPerStep}");
        }
        long bytes = File.Exists(dataset) ? new FileInfo(dataset).Length : 0;
        if (limits.MaxDatasetBytes > 0 && bytes > limits.MaxDatasetBytes)
        {
            throw new JobSpecException("dataset",
                $"dataset is {bytes} bytes, over the server limit {WorkerLimits.Key(nameof(WorkerLimits.MaxDatasetBytes))} = {limits.MaxDatasetBytes}");
        }
    }

    /// <summary>Refuses a device this build cannot run (a permanent error: no retry would help).</summary>
    public static void CheckDevice(Device device)
    {
        if (!AvailableDevices.Contains(device))
        {
            throw new JobSpecException("config.runtime.device",
                $"runtime.device '{RuntimeNames.Of(device)}' is not available on this worker (it has {string.Join(", ", AvailableDevices.Select(RuntimeNames.Of))})");
        }
    }

    private static void Cap(string field, long value, long limit, string name)
    {
        if (limit > 0 && value > limit)
        {
            throw new JobSpecException(field, $"{field} is {value}, over the server limit {WorkerLimits.Key(name)} = {limit}");
        }
    }
}
