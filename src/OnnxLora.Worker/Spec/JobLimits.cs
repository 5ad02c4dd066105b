// Checks a parsed training config and its dataset against the server-wide caps (Worker:Limits) and the
// devices this build can run, before a job is queued: a request over a limit is refused naming the limit and
// its value; a device this build lacks is refused at once instead of failing on every retry.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Training.Config;

namespace OnnxLora.Worker.Spec;

public static class JobLimits
{
    private const string CudaProvider = "CUDAExecutionProvider";

    private static readonly Lazy<IReadOnlyList<string>> s_devices = new(() =>
        OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider) ? ["cpu", "cuda"] : ["cpu"]);

    /// <summary>The devices this build of ONNX Runtime can train on.</summary>
    public static IReadOnlyList<string> AvailableDevices => s_devices.Value;

    public static void Check(TrainConfig c, string dataset, WorkerLimits limits)
    {
        CheckDevice(c.Device);
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
    public static void CheckDevice(string device)
    {
        if (!AvailableDevices.Contains(device))
        {
            throw new JobSpecException("config.device",
                $"device '{ErrorText.Quote(device)}' is not available on this server (it has {string.Join(", ", AvailableDevices)})");
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
