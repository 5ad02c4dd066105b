// The IOBinding engine (DeviceStepEngine, state in allocator memory) against the host-array engine on
// CPU: same artifacts, same 30 fixture batches, same AdamW — the loss trajectories must agree, so the
// CUDA run on the H200 exercises a code path already proven here.
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class DeviceStepEngineTests
{
    /// <summary>Same CPU kernels on the same inputs: only summation order could differ, and it does not.</summary>
    private const double SameKernelTolerance = 0;

    [Fact]
    public void IoBindingTrajectoryEqualsHostEngineTrajectory()
    {
        var o = new ParityOptions { Model = Fixture.Base, Batch = Fixture.Reference, Adapter = Fixture.Adapter, Trajectory = Fixture.Trajectory };
        var host = ParityRunner.Run(o).Outputs["trajectory.losses"].Data;
        var bound = ParityRunner.Run(o with { IoBinding = true }).Outputs["trajectory.losses"].Data;
        Assert.Equal(30, bound.Length);
        for (int s = 0; s < host.Length; s++)
        {
            Assert.True(Math.Abs(host[s] - bound[s]) <= SameKernelTolerance, $"step {s}: host {host[s]:R} vs IOBinding {bound[s]:R}");
        }
    }
}
