// Runs a saved training graph once on one batch with the fixture adapter's LoRA values as parameters and
// returns the loss and every parameter's gradient by name. Shared by the memory-saving and blocked-attention
// tests, which compare two graphs of the same model on the same batch; it does no comparison itself.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Tests;

internal static class GraphGradients
{
    /// <summary>"loss" and each parameter's gradient; ids, mask and labels are [batch, time] row-major.</summary>
    public static Dictionary<string, float[]> Run(InferenceSession session, TrainingGraph graph, PeftAdapter adapter,
        long[] inputIds, long[] attentionMask, long[] labels, int batch, int time)
    {
        var shape = new long[] { batch, time };
        var names = new List<string> { "input_ids", "attention_mask", "labels" };
        var inputs = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(inputIds, shape),
            OrtValue.CreateTensorValueFromMemory(attentionMask, shape),
            OrtValue.CreateTensorValueFromMemory(labels, shape),
        };
        try
        {
            foreach (var p in graph.Parameters)
            {
                names.Add(p.Name);
                inputs.Add(OrtValue.CreateTensorValueFromMemory(adapter.Tensors[p.Name].Data, adapter.Tensors[p.Name].Shape));
            }
            var outputs = new List<string> { "loss" };
            outputs.AddRange(graph.Parameters.Select(p => graph.Gradients[p.Name]));
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, names, inputs, outputs);
            var map = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int k = 0; k < outputs.Count; k++)
            {
                map[k == 0 ? "loss" : graph.Parameters[k - 1].Name] = results[k].GetTensorDataAsSpan<float>().ToArray();
            }
            return map;
        }
        finally
        {
            inputs.ForEach(v => v.Dispose());
        }
    }
}
