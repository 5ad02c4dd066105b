// End-to-end parity against transformers + PEFT on the tiny-llama fixture: base logits/loss,
// LoRA logits/loss/gradients after one backward, and the 30-step AdamW loss trajectory.
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class FixtureParityTests
{
    /// <summary>fp32 tolerances from the issue: logits absolute, loss absolute, gradients relative to max |ref|.</summary>
    private const double LogitsTolerance = 1e-4;
    private const double LossTolerance = 1e-5;
    private const double GradientRelativeTolerance = 1e-4;
    private const double TrajectoryTolerance = 1e-4;

    [Fact]
    public void BaseLogitsAndLossMatchTransformers()
    {
        var result = ParityRunner.Run(new ParityOptions { Model = Fixture.Base, Batch = Fixture.Reference });
        AssertWithin(result, "base.logits", LogitsTolerance);
        AssertWithin(result, "base.loss", LossTolerance);
    }

    [Fact]
    public void LoraLogitsLossGradientsAndTrajectoryMatchPeft()
    {
        var result = ParityRunner.Run(new ParityOptions
        {
            Model = Fixture.Base, Batch = Fixture.Reference, Adapter = Fixture.Adapter, Trajectory = Fixture.Trajectory,
        });
        AssertWithin(result, "lora.logits", LogitsTolerance);
        AssertWithin(result, "lora.loss", LossTolerance);
        AssertWithin(result, "trajectory.losses", TrajectoryTolerance);
        var grads = result.Comparisons.Where(c => c.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(28, grads.Count);
        foreach (var g in grads)
        {
            Assert.True(g.Relative <= GradientRelativeTolerance, $"{g.Name}: relative error {g.Relative:E2}");
            Assert.True(g.MaxAbsReference > 0, $"{g.Name}: reference gradient is all zeros, the check would be vacuous");
        }
    }

    private static void AssertWithin(ParityResult r, string name, double tolerance)
    {
        var c = Assert.Single(r.Comparisons, x => x.Name == name);
        Assert.True(c.MaxAbs <= tolerance, $"{name}: max abs error {c.MaxAbs:E2} > {tolerance:E0}");
    }
}
