// The step engine's flat state seen per parameter: initial values come back unchanged through the flat
// segments, the gradients the training graph writes into per-parameter views equal PEFT's gradients tensor
// by tensor (so every view's offset and shape are right), and an engine restored from another engine's
// state continues exactly as that engine does.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class StepEngineStateTests
{
    /// <summary>fp32 gradients against PEFT, relative to the largest reference value (as `onnxlora parity` checks them).</summary>
    private const double GradientRelativeTolerance = 1e-4;

    [Fact]
    public void InitialValuesAndGradientsMatchPeftParameterByParameter()
    {
        using var dir = new TempDir();
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var (a, initial) = Artifacts(dir, adapter);
        using var engine = new StepEngine(a, initial, new RuntimeOptions());
        AssertSame(initial, engine.Parameters());

        var b = ParityBatch.Load(Fixture.Reference);
        using var batch = new BatchTensors(b.InputIds, b.AttentionMask, b.Labels!, b.Batch, b.Time);
        engine.ForwardBackward(batch);
        var grads = engine.Gradients();
        using var reference = SafetensorsFile.Open(Fixture.Reference);
        Assert.Equal(28, grads.Count);
        foreach (var (name, ours) in grads)
        {
            var theirs = reference.ReadAsFloat32("grad." + name);
            Assert.Equal(theirs.Length, ours.Length);
            double maxRef = theirs.Max(x => Math.Abs((double)x));
            double maxAbs = ours.Zip(theirs, (x, y) => Math.Abs((double)x - y)).Max();
            Assert.True(maxRef > 0, $"{name}: reference gradient is all zeros, the check would be vacuous");
            Assert.True(maxAbs / maxRef <= GradientRelativeTolerance, $"{name}: relative error {maxAbs / maxRef:E2}");
        }
    }

    [Fact]
    public void RestoredEngineContinuesExactly()
    {
        using var dir = new TempDir();
        var traj = TrajectoryFile.Load(Fixture.Trajectory);
        var (a, initial) = Artifacts(dir, PeftAdapter.Load(Fixture.Adapter));
        using var engine = new StepEngine(a, initial, new RuntimeOptions());
        for (int s = 0; s < 3; s++)
        {
            Step(engine, traj, s);
        }
        using var restored = new StepEngine(a, initial, new RuntimeOptions());
        var (m, v) = engine.Moments();
        restored.Restore(engine.Parameters(), m, v, engine.StepCount);
        AssertSame(engine.Moments().ExpAvg, restored.Moments().ExpAvg);
        AssertSame(engine.Moments().ExpAvgSq, restored.Moments().ExpAvgSq);
        float first = Step(engine, traj, 3), second = Step(restored, traj, 3);
        Assert.Equal(first, second);
        AssertSame(engine.Parameters(), restored.Parameters());
    }

    [Fact]
    public void RestoreWithAMissingTensorNamesIt()
    {
        using var dir = new TempDir();
        var (a, initial) = Artifacts(dir, PeftAdapter.Load(Fixture.Adapter));
        using var engine = new StepEngine(a, initial, new RuntimeOptions());
        var name = a.Parameters[5].Name;
        var partial = initial.Where(kv => kv.Key != name).ToDictionary();
        var e = Assert.Throws<BadInputException>(() => engine.Restore(initial, partial, initial, 1));
        Assert.Contains($"exp_avg: no value of {a.Parameters[5].ElementCount} elements for parameter '{name}'", e.Message, StringComparison.Ordinal);
    }

    private static (TrainingArtifacts, Dictionary<string, float[]>) Artifacts(TempDir dir, PeftAdapter adapter)
    {
        using var source = ModelSource.Resolve(Fixture.Base);
        var a = TrainingArtifacts.Generate(source.ModelPath, dir["art"], new TrainingGraphOptions { Lora = adapter.Settings with { Dropout = 0 } },
            TrajectoryFile.Load(Fixture.Trajectory).AdamW);
        return (a, a.Parameters.ToDictionary(p => p.Name, p => adapter.Tensors[p.Name].Data));
    }

    private static float Step(StepEngine engine, TrajectoryFile traj, int s)
    {
        var step = traj.Steps[s];
        using var batch = new BatchTensors(step.InputIds, step.AttentionMask, step.Labels, step.Batch, step.Time);
        float loss = engine.ForwardBackward(batch);
        Assert.True(engine.OptimizerStep(traj.LearningRate));
        return loss;
    }

    private static void AssertSame(IReadOnlyDictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected)
        {
            Assert.True(values.AsSpan().SequenceEqual(actual[name]), $"{name} differs");
        }
    }
}
