// Runs a GenAI-layout decoder once on a batch with an empty KV cache and returns its logits (B,T,V) in float32.
// Plain ORT CPU; the graph is whatever the folder holds (MatMul or MatMulNBits), nothing is rewritten.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Models;

namespace OnnxLora.Rewrite.Tests.Fold;

internal static class GenAiLogits
{
    public static float[] Run(string modelDir, long[] ids, long[] mask, int batch, int time)
    {
        using var session = new InferenceSession(Path.Combine(modelDir, "model.onnx"));
        using var run = new RunOptions(); // held for the call: Run passes only its handle to ORT
        var names = new List<string> { GenAiNames.InputIds, GenAiNames.AttentionMask };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [batch, time]),
            OrtValue.CreateTensorValueFromMemory(mask, [batch, time]),
        };
        try
        {
            foreach (var (name, meta) in session.InputMetadata.Where(kv => kv.Key.StartsWith("past_key_values.", StringComparison.Ordinal)))
            {
                long[] shape = [batch, meta.Dimensions[1], 0, meta.Dimensions[3]];
                names.Add(name);
                values.Add(meta.ElementDataType == TensorElementType.Float16
                    ? OrtValue.CreateTensorValueFromMemory(Array.Empty<Float16>(), shape)
                    : OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), shape));
            }
            using var results = session.Run(run, names, values, [GenAiNames.Logits]);
            var r = results[0];
            return r.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
                ? r.GetTensorDataAsSpan<Float16>().ToArray().Select(h => h.ToFloat()).ToArray()
                : r.GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public static double MaxAbs(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs((double)p - q)).Max();
}
