// Parity beyond the shared fixture, on a random Llama with tied embeddings, a 4:1 GQA ratio,
// rope θ 500000 with llama3 scaling: the lowered training forward agrees with ORT's own
// GroupQueryAttention kernel on the GenAI graph, and left padding does not change real tokens'
// logits (RoPE is relative; padded keys are masked), as transformers guarantees.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Tests;

public sealed class ConfigVariantParityTests
{
    private const double LogitsTolerance = 1e-4;

    private static readonly LlamaConfig s_config = RandomLlama.Preset("tiny") with
    {
        HiddenSize = 128, NumAttentionHeads = 8, NumKeyValueHeads = 2, HeadDim = 16, NumHiddenLayers = 2, IntermediateSize = 200,
        TieWordEmbeddings = true, RopeTheta = 500000, MaxPositionEmbeddings = 256,
        RopeScaling = new RopeScaling("llama3", 8, 1, 4, 64),
    };

    [Fact]
    public void LoweredForwardMatchesOrtGroupQueryAttentionAndIgnoresLeftPadding()
    {
        using var dir = new TempDir();
        RandomLlama.Write(dir["hf"], s_config, seed: 5);
        HfImporter.Import(dir["hf"], dir["onnx"]);
        var eval = TrainingGraph.Build(ModelReader.Load(Path.Combine(dir["onnx"], "model.onnx")),
            new TrainingGraphOptions { Lora = null, Training = false, OutputLogits = true });
        ArtifactWriter.Save(eval.Model, dir["eval/eval_model.onnx"]);

        long[] real = [1, 17, 200, 45, 300, 9, 88];
        int t = real.Length, pad = 3, v = s_config.VocabSize;
        var lowered = Lowered(dir["eval/eval_model.onnx"], real, Enumerable.Repeat(1L, t).ToArray(), 1, t);
        var gqa = GenAi(Path.Combine(dir["onnx"], "model.onnx"), real);
        Assert.True(MaxDiff(lowered, gqa) <= LogitsTolerance, $"lowered vs ORT GQA: {MaxDiff(lowered, gqa):E2}");

        // Row 0 left-padded by 3, row 1 unpadded and longer: row 0's real positions must match the unpadded run.
        int tt = t + pad;
        var ids = new long[2 * tt];
        var mask = new long[2 * tt];
        for (int i = 0; i < t; i++)
        {
            ids[pad + i] = real[i];
            mask[pad + i] = 1;
        }
        for (int i = 0; i < tt; i++)
        {
            ids[tt + i] = 3 + i;
            mask[tt + i] = 1;
        }
        var padded = Lowered(dir["eval/eval_model.onnx"], ids, mask, 2, tt);
        var row0 = padded.AsSpan(pad * v, t * v).ToArray();
        Assert.True(MaxDiff(row0, lowered) <= LogitsTolerance, $"left padding changed logits by {MaxDiff(row0, lowered):E2}");
        Assert.All(padded, x => Assert.True(float.IsFinite(x)));
    }

    private static float[] Lowered(string path, long[] ids, long[] mask, int b, int t)
    {
        using var s = new InferenceSession(path);
        using var i = OrtValue.CreateTensorValueFromMemory(ids, [b, t]);
        using var m = OrtValue.CreateTensorValueFromMemory(mask, [b, t]);
        using var l = OrtValue.CreateTensorValueFromMemory(ids, [b, t]);
        using var r = s.Run(new RunOptions(), ["input_ids", "attention_mask", "labels"], [i, m, l], ["logits"]);
        return r[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] GenAi(string path, long[] ids)
    {
        using var s = new InferenceSession(path);
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]),
            OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, ids.Length).ToArray(), [1, ids.Length]),
        };
        for (int layer = 0; layer < s_config.NumHiddenLayers; layer++)
        {
            names.Add(GenAiNames.PastKey(layer));
            values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, s_config.NumKeyValueHeads, 0, s_config.HeadDim]));
            names.Add(GenAiNames.PastValue(layer));
            values.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, s_config.NumKeyValueHeads, 0, s_config.HeadDim]));
        }
        using var r = s.Run(new RunOptions(), names, values, ["logits"]);
        var result = r[0].GetTensorDataAsSpan<float>().ToArray();
        values.ForEach(x => x.Dispose());
        return result;
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++)
        {
            m = Math.Max(m, Math.Abs(a[i] - b[i]));
        }
        return m;
    }
}
