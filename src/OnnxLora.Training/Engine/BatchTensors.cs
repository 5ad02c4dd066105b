// One batch as ORT inputs: input_ids, attention_mask, labels (B,T) int64, pinned managed arrays.
using Microsoft.ML.OnnxRuntime;

namespace OnnxLora.Training.Engine;

public sealed class BatchTensors : IDisposable
{
    public BatchTensors(long[] inputIds, long[] attentionMask, long[] labels, int batch, int time)
    {
        Batch = batch;
        Time = time;
        long[] shape = [batch, time];
        Values =
        [
            OrtValue.CreateTensorValueFromMemory(inputIds, shape),
            OrtValue.CreateTensorValueFromMemory(attentionMask, shape),
            OrtValue.CreateTensorValueFromMemory(labels, shape),
        ];
        Labels = labels;
    }

    public static readonly string[] InputNames = ["input_ids", "attention_mask", "labels"];

    public IReadOnlyList<string> Names => InputNames;

    public IReadOnlyList<OrtValue> Values { get; }

    public long[] Labels { get; }

    public int Batch { get; }

    public int Time { get; }

    /// <summary>Tokens that carry loss (labels ≠ -100 after the shift).</summary>
    public int CountedTokens()
    {
        int n = 0;
        for (int b = 0; b < Batch; b++)
        {
            for (int t = 1; t < Time; t++)
            {
                n += Labels[b * Time + t] != -100 ? 1 : 0;
            }
        }
        return n;
    }

    public void Dispose()
    {
        foreach (var v in Values)
        {
            v.Dispose();
        }
    }
}
