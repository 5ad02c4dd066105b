// Mixed precision on CPU ORT: an fp16 base (import --dtype float16) with fp32 LoRA masters and moments
// trains through the generated fp16 backward graph with dynamic loss scaling, and its 30-step trajectory
// tracks the fp32 PEFT reference; loss scaling by a power of two changes nothing in fp32; the scaler
// follows torch's GradScaler policy.
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class MixedPrecisionTests
{
    /// <summary>
    /// fp16 weights and activations against the fp32 reference losses (observed max 4.7e-4). 1e-3 leaves room for
    /// kernel differences and still catches a lowering that loses fp16 precision (one measured 1.8e-3).
    /// </summary>
    private const double Fp16TrajectoryTolerance = 1e-3;

    [Fact]
    public void Fp16BaseWithLossScalingTracksFp32Trajectory()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["f16"], ElementType.Float16);
        var scaler = new DynamicLossScaler(initialScale: 1024f);
        var (losses, reference) = RunTrajectory(Path.Combine(dir["f16"], "model.onnx"), dir["art"], lossScaling: true, scaler);
        Assert.Equal(0, scaler.SkippedSteps);
        for (int s = 0; s < losses.Length; s++)
        {
            Assert.True(Math.Abs(losses[s] - reference[s]) <= Fp16TrajectoryTolerance, $"step {s}: fp16 {losses[s]} vs fp32 reference {reference[s]}");
        }
    }

    [Fact]
    public void PowerOfTwoLossScaleLeavesFp32TrajectoryUnchanged()
    {
        using var dir = new TempDir();
        var unscaled = ParityRunner.Run(new ParityOptions
        {
            Model = Fixture.Base, Batch = Fixture.Reference, Adapter = Fixture.Adapter, Trajectory = Fixture.Trajectory,
        }).Outputs["trajectory.losses"].Data;
        HfImporter.Import(Fixture.Base, dir["f32"]);
        var (scaled, _) = RunTrajectory(Path.Combine(dir["f32"], "model.onnx"), dir["art"], lossScaling: true, new DynamicLossScaler(initialScale: 1024f));
        Assert.Equal(unscaled, scaled);
    }

    [Fact]
    public void ScalerHalvesOnOverflowAndDoublesAfterGrowthInterval()
    {
        var s = new DynamicLossScaler(initialScale: 1024f, growthInterval: 3);
        s.Update(finite: false);
        Assert.Equal(512f, s.Scale);
        Assert.Equal(1, s.SkippedSteps);
        s.Update(true);
        s.Update(true);
        Assert.Equal(512f, s.Scale);
        s.Update(true);
        Assert.Equal(1024f, s.Scale);
        Assert.Equal(0, s.GoodSteps);
    }

    private static (float[] Losses, float[] Reference) RunTrajectory(string modelPath, string work, bool lossScaling, DynamicLossScaler scaler)
    {
        var traj = TrajectoryFile.Load(Fixture.Trajectory);
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var a = TrainingArtifacts.Generate(modelPath, work, new TrainingGraphOptions { Lora = adapter.Settings with { Dropout = 0 }, LossScaling = lossScaling }, traj.AdamW);
        var initial = a.Parameters.ToDictionary(p => p.Name, p => adapter.Tensors[p.Name].Data);
        using var engine = new StepEngine(a, initial, new RuntimeOptions(), scaler);
        var losses = new float[traj.Steps.Count];
        for (int s = 0; s < losses.Length; s++)
        {
            var step = traj.Steps[s];
            using var batch = new BatchTensors(step.InputIds, step.AttentionMask, step.Labels, step.Batch, step.Time);
            losses[s] = engine.ForwardBackward(batch);
            Assert.True(engine.OptimizerStep(traj.LearningRate), $"step {s} skipped");
        }
        return (losses, traj.Losses);
    }
}
