// The device engine's flat state seen per parameter: after some steps its parameters, moments and
// gradients equal the host engine's tensor by tensor (offsets into the flat segments are right), and
// a second device engine restored from them continues exactly as the first one does.
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class DeviceStepEngineStateTests
{
    [Fact]
    public void FlatStateMatchesHostEngineAndRestoresExactly()
    {
        using var dir = new TempDir();
        var traj = TrajectoryFile.Load(Fixture.Trajectory);
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        using var source = ModelSource.Resolve(Fixture.Base);
        var a = TrainingArtifacts.Generate(source.ModelPath, dir["art"], new TrainingGraphOptions { Lora = adapter.Settings with { Dropout = 0 } }, traj.AdamW);
        var initial = a.Parameters.ToDictionary(p => p.Name, p => adapter.Tensors[p.Name].Data);
        using var host = StepEngines.Create(a, initial, "cpu");
        using var device = StepEngines.Create(a, initial, "cpu", ioBinding: true);
        Assert.IsType<DeviceStepEngine>(device);
        for (int s = 0; s < 3; s++)
        {
            Step(host, traj, s);
            Step(device, traj, s);
        }
        AssertSame(host.Parameters(), device.Parameters());
        AssertSame(host.Moments().ExpAvg, device.Moments().ExpAvg);
        AssertSame(host.Moments().ExpAvgSq, device.Moments().ExpAvgSq);
        AssertSame(host.Gradients(), device.Gradients());

        using var restored = StepEngines.Create(a, initial, "cpu", ioBinding: true);
        var (m, v) = device.Moments();
        restored.Restore(device.Parameters(), m, v, device.StepCount);
        float first = Step(device, traj, 3), second = Step(restored, traj, 3);
        Assert.Equal(first, second);
        AssertSame(device.Parameters(), restored.Parameters());
    }

    private static float Step(IStepEngine engine, TrajectoryFile traj, int s)
    {
        var step = traj.Steps[s];
        using var batch = new BatchTensors(step.InputIds, step.AttentionMask, step.Labels, step.Batch, step.Time);
        float loss = engine.ForwardBackward(batch);
        Assert.True(engine.OptimizerStep(traj.LearningRate));
        return loss;
    }

    private static void AssertSame(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected)
        {
            Assert.True(values.AsSpan().SequenceEqual(actual[name]), $"{name} differs between the engines");
        }
    }
}
