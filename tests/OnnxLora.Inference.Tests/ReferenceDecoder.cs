// Greedy decoding without a KV cache: re-runs our own full-sequence eval graph (TrainingGraph, Lora=null)
// on the growing sequence and takes the argmax of the last position. Slow on purpose; it is the oracle.
// T=sequence length, V=vocab
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Inference.Tests;

public static class ReferenceDecoder
{
    public static List<int> Greedy(string onnxDir, int[] prompt, int newTokens, int eos, string work)
    {
        var graph = TrainingGraph.Build(ModelReader.Load(Path.Combine(onnxDir, "model.onnx")),
            new TrainingGraphOptions { Lora = null, Training = false, OutputLogits = true });
        var path = Path.Combine(work, "eval_model.onnx");
        ArtifactWriter.Save(graph.Model, path);
        using var session = SessionFactory.Create(path, new RuntimeOptions());
        var seq = prompt.Select(x => (long)x).ToList();
        var result = new List<int>();
        using var run = new RunOptions();
        for (int step = 0; step < newTokens; step++)
        {
            var ids = seq.ToArray();
            using var batch = new BatchTensors(ids, Enumerable.Repeat(1L, ids.Length).ToArray(), ids, 1, ids.Length);
            using var outputs = session.Run(run, batch.Names, batch.Values, ["logits"]);
            var logits = OrtTensors.ToFloats(outputs[0]); // (1,T,V)
            int v = logits.Length / ids.Length;
            var last = logits.AsSpan((ids.Length - 1) * v, v);
            int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(last);
            result.Add(best);
            if (best == eos)
            {
                break;
            }
            seq.Add(best);
        }
        return result;
    }
}
