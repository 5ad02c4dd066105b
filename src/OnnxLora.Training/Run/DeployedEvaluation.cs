// Loss and perplexity of a GenAI folder's decoder graph run as it is deployed: the same ONNX file ORT GenAI loads
// (MatMulNBits with its accuracy_level, GroupQueryAttention, KV-cache inputs given empty), one example at a time, HF
// shifted cross-entropy over labels ≠ −100. This is how an int4 export is measured against its float original; it
// does not lower or differentiate the graph (`eval` without --deployed does) and takes no adapter (merge one first).
// T=example length, V=vocab
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Models;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Run;

public static class DeployedEvaluation
{
    /// <param name="maxExamples">evaluate only the first this many examples (null: all).</param>
    public static DatasetEvaluation Run(string modelDir, string data, int maxSeqLen, string? chatTemplate, int? maxExamples,
        RuntimeOptions? runtime = null)
    {
        var modelPath = GenAiFolder.Open(modelDir).DecoderPath;
        var tokenizer = TextTokenizer.Load(modelDir);
        var raw = JsonlDatasetReader.ReadFile(data);
        var chat = raw.Any(r => r.Format == DatasetFormat.Messages)
            ? new ChatTokenizer(ChatTemplateRenderer.ForModel(modelDir, chatTemplate), tokenizer)
            : null;
        IReadOnlyList<TokenizedExample> examples = new ExampleTokenizer(tokenizer, maxSeqLen, chat).TokenizeAll(raw).Examples;
        if (maxExamples is { } m)
        {
            examples = examples.Take(m).ToList();
        }
        runtime ??= new RuntimeOptions();
        var session = SessionFactory.Create(modelPath, runtime);
        double sum = 0;
        long count = 0;
        // One RunOptions held by `using` for every Run: the managed Run passes only its handle, so an options object
        // created inline can be finalized by the GC while ORT still reads it (use-after-free, seen as rare SIGSEGVs).
        using var run = new RunOptions();
        try
        {
            var pasts = session.InputMetadata.Where(kv => kv.Key.StartsWith("past_key_values.", StringComparison.Ordinal)).ToList();
            foreach (var ex in examples)
            {
                var (nll, n) = ExampleNll(session, run, pasts, ex);
                sum += nll;
                count += n;
            }
        }
        finally
        {
            SessionFactory.Release(session, runtime);
        }
        if (count == 0)
        {
            throw new InvalidDataException($"{data}: no scored tokens (every label is -100)");
        }
        return new DatasetEvaluation(sum / count, examples.Count, count);
    }

    /// <summary>Logits (1,T,V) of the folder's decoder graph for one sequence, as float32.</summary>
    public static float[] Logits(string modelDir, long[] ids, RuntimeOptions? runtime = null)
    {
        runtime ??= new RuntimeOptions();
        var session = SessionFactory.Create(GenAiFolder.Open(modelDir).DecoderPath, runtime);
        using var run = new RunOptions();
        try
        {
            return RunLogits(session, run, session.InputMetadata.Where(kv => kv.Key.StartsWith("past_key_values.", StringComparison.Ordinal)).ToList(), ids);
        }
        finally
        {
            SessionFactory.Release(session, runtime);
        }
    }

    // Σ −log p(label[t] | tokens < t) over t ≥ 1 with label ≠ −100, and how many such t.
    private static (double Nll, int Count) ExampleNll(InferenceSession session, RunOptions run, List<KeyValuePair<string, NodeMetadata>> pasts,
        TokenizedExample ex)
    {
        int t = ex.Length;
        var logits = RunLogits(session, run, pasts, ex.InputIds);
        int v = logits.Length / t;
        double nll = 0;
        int n = 0;
        for (int i = 1; i < t; i++)
        {
            long label = ex.Labels[i];
            if (label == TokenizedExample.IgnoreIndex)
            {
                continue;
            }
            var row = logits.AsSpan((i - 1) * v, v);
            float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
            double z = 0;
            foreach (var x in row)
            {
                z += Math.Exp(x - max);
            }
            nll += Math.Log(z) + max - row[(int)label];
            n++;
        }
        return (nll, n);
    }

    // One run with an empty KV cache: logits (1,T,V).
    private static float[] RunLogits(InferenceSession session, RunOptions run, List<KeyValuePair<string, NodeMetadata>> pasts, long[] ids)
    {
        int t = ids.Length;
        var names = new List<string> { GenAiNames.InputIds, GenAiNames.AttentionMask };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [1, t]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, t).ToArray(), [1, t]),
        };
        try
        {
            foreach (var (name, meta) in pasts)
            {
                long[] shape = [1, meta.Dimensions[1], 0, meta.Dimensions[3]];
                names.Add(name);
                values.Add(meta.ElementDataType switch
                {
                    TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(Array.Empty<Float16>(), shape),
                    TensorElementType.BFloat16 => OrtValue.CreateTensorValueFromMemory(Array.Empty<BFloat16>(), shape),
                    _ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), shape),
                });
            }
            using var results = session.Run(run, names, values, [GenAiNames.Logits]);
            return Runtime.OrtTensors.ToFloats(results[0]); // (1,T,V)
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }
}
