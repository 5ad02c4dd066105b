// ORT GenAI loads the int4 folder `merge --quantize int4` writes, unchanged: its greedy tokens (KV cache, GroupQuery
// Attention over MatMulNBits) equal an argmax loop that re-runs the same int4 graph on the whole sequence with an
// empty cache; with the builder's accuracy_level 4 it still generates. T=sequence length, V=vocab
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Inference.Tests;

public sealed class Int4GenAiTests(InferenceFixture fx) : IClassFixture<InferenceFixture>
{
    private const int Eos = 2;
    private const int NewTokens = 12;
    private const int MinCompared = 8;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GenAiGreedyOnTheInt4MergedModelEqualsFullSequenceArgmax(bool symmetric)
    {
        var dir = fx.NewPath("int4");
        Int4Merge.Run(fx.BaseDir, PeftAdapter.Load(fx.AdapterDir), dir, new Int4QuantizeOptions { Symmetric = symmetric, AccuracyLevel = 0 });
        int[] prompt = [1, 42, 7, 120, 300];
        using var gen = new GenAiGenerator(dir);
        var ours = gen.GenerateTokens(prompt, new GenerationOptions { MaxNewTokens = NewTokens }).ToList();
        Assert.Equal(FullSequenceGreedy(dir, prompt), ours);
        Assert.True(ours.Count >= MinCompared, $"only {ours.Count} tokens compared");
    }

    [Fact]
    public void GenAiGeneratesWithTheBuilderCpuAccuracyLevel()
    {
        var dir = fx.NewPath("int4-acc4");
        Int4Merge.Run(fx.BaseDir, PeftAdapter.Load(fx.AdapterDir), dir, new Int4QuantizeOptions());
        using var gen = new GenAiGenerator(dir);
        var tokens = gen.GenerateTokens([1, 42, 7], new GenerationOptions { MaxNewTokens = 6 }).ToList();
        Assert.NotEmpty(tokens);
        Assert.All(tokens, t => Assert.InRange(t, 0, 511));
    }

    // Argmax of the last position, re-running the int4 GenAI graph on the growing sequence with an empty KV cache.
    private static List<int> FullSequenceGreedy(string dir, int[] prompt)
    {
        using var session = new InferenceSession(Path.Combine(dir, "model.onnx"));
        using var run = new RunOptions(); // held for every call: Run passes only its handle to ORT
        var pasts = session.InputMetadata.Where(kv => kv.Key.StartsWith("past_key_values.", StringComparison.Ordinal)).ToList();
        var seq = prompt.Select(x => (long)x).ToList();
        var result = new List<int>();
        for (int step = 0; step < NewTokens; step++)
        {
            var ids = seq.ToArray();
            var names = new List<string> { GenAiNames.InputIds, GenAiNames.AttentionMask };
            var values = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]),
                OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, ids.Length).ToArray(), [1, ids.Length]),
            };
            foreach (var (name, meta) in pasts)
            {
                names.Add(name);
                values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, meta.Dimensions[1], 0, meta.Dimensions[3]]));
            }
            using var outputs = session.Run(run, names, values, [GenAiNames.Logits]);
            var logits = outputs[0].GetTensorDataAsSpan<float>(); // (1,T,V)
            int v = logits.Length / ids.Length;
            int best = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.Slice((ids.Length - 1) * v, v));
            foreach (var value in values)
            {
                value.Dispose();
            }
            result.Add(best);
            if (best == Eos)
            {
                break;
            }
            seq.Add(best);
        }
        return result;
    }
}
