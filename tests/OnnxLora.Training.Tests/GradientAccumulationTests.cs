// Gradient accumulation: each fixture batch (2 rows with equal counted-token counts) split into two
// one-row micro-batches must reproduce the PEFT trajectory of the full batch, since the mean of the two
// row means equals the batch mean. The accumulator buffers are allocated on the first second micro-batch.
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class GradientAccumulationTests
{
    private const double TrajectoryTolerance = 1e-4;

    [Fact]
    public void TwoMicroBatchesOfOneRowMatchTheFullBatchTrajectory()
    {
        using var dir = new TempDir();
        using var source = ModelSource.Resolve(Fixture.Base);
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var traj = TrajectoryFile.Load(Fixture.Trajectory);
        var artifacts = TrainingArtifacts.Generate(source.ModelPath, dir.Path, new TrainingGraphOptions { Lora = adapter.Settings }, traj.AdamW);
        var initial = artifacts.Parameters.ToDictionary(p => p.Name, p => adapter.Tensors[p.Name].Data);
        using var engine = new StepEngine(artifacts, initial, new RuntimeOptions());
        for (int s = 0; s < traj.Steps.Count; s++)
        {
            var step = traj.Steps[s];
            Assert.Equal(2, step.Batch);
            double loss = 0;
            for (int row = 0; row < 2; row++)
            {
                var range = new Range(row * step.Time, (row + 1) * step.Time);
                using var micro = new BatchTensors(step.InputIds[range], step.AttentionMask[range], step.Labels[range], 1, step.Time);
                loss += engine.ForwardBackward(micro) / 2.0;
            }
            Assert.True(engine.OptimizerStep(traj.LearningRate));
            Assert.True(Math.Abs(loss - traj.Losses[s]) <= TrajectoryTolerance, $"step {s + 1}: {loss:R} vs PEFT {traj.Losses[s]:R}");
        }
    }
}
