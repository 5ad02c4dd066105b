// Full fine-tune (every weight lifted to a graph input): its gradients for an embedding row, a norm
// weight and the LM head agree with central finite differences of the eval graph's loss.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class FullFineTuneTests
{
    private const float Epsilon = 1e-2f;
    private const double RelativeTolerance = 2e-2;
    private const double AbsoluteTolerance = 2e-4;

    [Fact]
    public void GradientsOfEveryKindOfWeightMatchFiniteDifferences()
    {
        using var dir = new TempDir();
        using var source = ModelSource.Resolve(Fixture.Base);
        var train = TrainingGraph.Build(ModelReader.Load(source.ModelPath), new TrainingGraphOptions { Lora = null, FullFineTune = true });
        ArtifactWriter.Save(train.Model, dir["t/training_model.onnx"]);
        var eval = TrainingGraph.Build(ModelReader.Load(source.ModelPath), new TrainingGraphOptions { Lora = null, FullFineTune = true, Training = false });
        ArtifactWriter.Save(eval.Model, dir["e/eval_model.onnx"]);
        var batch = ParityBatch.Load(Fixture.Reference);
        var values = train.Parameters.ToDictionary(p => p.Name, p => p.Initial!.ToFloats());

        using var ts = new InferenceSession(dir["t/training_model.onnx"]);
        using var es = new InferenceSession(dir["e/eval_model.onnx"]);
        string[] probes = ["model.embed_tokens.weight", "model.layers.1.post_attention_layernorm.weight",
            "model.layers.0.attn.v_proj.MatMul.weight", "lm_head.MatMul.weight"];
        var grads = Run(ts, batch, values, probes.Select(p => train.Gradients[p]).ToArray());
        for (int k = 0; k < probes.Length; k++)
        {
            // Probe the element with the largest gradient, where finite differences are most informative.
            var name = probes[k];
            int index = Array.IndexOf(grads[k], grads[k].MaxBy(Math.Abs));
            float original = values[name][index];
            values[name][index] = original + Epsilon;
            double up = Run(es, batch, values, ["loss"])[0][0];
            values[name][index] = original - Epsilon;
            double down = Run(es, batch, values, ["loss"])[0][0];
            values[name][index] = original;
            double fd = (up - down) / (2 * Epsilon);
            double analytic = grads[k][index];
            Assert.True(Math.Abs(fd - analytic) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(fd),
                $"{name}[{index}]: analytic {analytic:E3} vs finite difference {fd:E3}");
            Assert.True(Math.Abs(analytic) > 10 * AbsoluteTolerance, $"{name}[{index}]: gradient {analytic:E2} too small to be a meaningful check");
        }
    }

    private static float[][] Run(InferenceSession s, ParityBatch b, Dictionary<string, float[]> values, string[] outputs)
    {
        var shape = new long[] { b.Batch, b.Time };
        var names = new List<string> { "input_ids", "attention_mask", "labels" };
        var inputs = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(b.InputIds, shape),
            OrtValue.CreateTensorValueFromMemory(b.AttentionMask, shape),
            OrtValue.CreateTensorValueFromMemory(b.Labels!, shape),
        };
        foreach (var input in s.InputMetadata.Keys.Where(values.ContainsKey))
        {
            names.Add(input);
            inputs.Add(OrtValue.CreateTensorValueFromMemory(values[input], s.InputMetadata[input].Dimensions.Select(d => (long)d).ToArray()));
        }
        using var r = s.Run(new RunOptions(), names, inputs, outputs);
        var result = r.Select(v => v.GetTensorDataAsSpan<float>().ToArray()).ToArray();
        inputs.ForEach(v => v.Dispose());
        return result;
    }
}
