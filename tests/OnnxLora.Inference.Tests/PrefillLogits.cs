// One prefill run of a GenAI decoder graph (an adapter-ready model) with an optional active .onnx_adapter:
// input_ids (B,T), an attention mask of ones and empty past key/values (B,K,0,d) → logits (B,T,V).
// Shared by the hot-swap tests over float and int4 bases; it compares nothing itself.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Inference.Tests;

internal static class PrefillLogits
{
    public static float[] Run(InferenceSession s, LlamaConfig cfg, long[] ids, int batch, OrtLoraAdapter? adapter)
    {
        int t = ids.Length / batch;
        var names = new List<string> { GenAiNames.InputIds, GenAiNames.AttentionMask };
        var values = new List<OrtValue>
        {
            OrtTensors.Int64(ids, batch, t),
            OrtTensors.Int64(Enumerable.Repeat(1L, ids.Length).ToArray(), batch, t),
        };
        for (int i = 0; i < cfg.NumHiddenLayers; i++)
        {
            foreach (var n in new[] { GenAiNames.PastKey(i), GenAiNames.PastValue(i) })
            {
                names.Add(n);
                values.Add(OrtTensors.Float([], batch, cfg.NumKeyValueHeads, 0, cfg.HeadDim));
            }
        }
        using var ro = new RunOptions();
        if (adapter is not null)
        {
            ro.AddActiveLoraAdapter(adapter);
        }
        try
        {
            using var outputs = s.Run(ro, names, values, [GenAiNames.Logits]);
            return OrtTensors.ToFloats(outputs[0]);
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }
}
