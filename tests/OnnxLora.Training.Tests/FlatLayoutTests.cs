// The flat state layout of the step engine: consecutive parameters share a segment up to the size
// limit, offsets are contiguous, a parameter larger than a segment stands alone in its own shape, and
// the limit depends on the device the artifacts are built for.
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;

namespace OnnxLora.Training.Tests;

public sealed class FlatLayoutTests
{
    private static TrainableParameter P(string name, params long[] shape) => new(name, shape, null);

    [Fact]
    public void ParametersShareSegmentsUpToTheLimitAndBigOnesStandAlone()
    {
        var ps = new[] { P("a", 2, 3), P("b", 4), P("c", 5, 2), P("huge", 4, 5), P("d", 3) };
        var segments = FlatLayout.Of(ps, maxSegmentElements: 12);
        Assert.Equal(4, segments.Count);
        Assert.Equal([(0, 0L), (1, 6L)], segments[0].Members);     // a (6) + b (4) = 10; c (10) does not fit
        Assert.Equal([10L], segments[0].Shape);
        Assert.Equal([(2, 0L)], segments[1].Members);              // c alone, still a flat [10] segment
        Assert.False(segments[1].IsWhole);
        Assert.Equal("huge", segments[2].Name);                    // 20 > 12: its own shape, bound without a view
        Assert.Equal([4L, 5L], segments[2].Shape);
        Assert.True(segments[2].IsWhole);
        Assert.Equal([(4, 0L)], segments[3].Members);
        Assert.Equal(segments.Select(s => s.Name).Distinct().Count(), segments.Count);
    }

    [Fact]
    public void LoraParametersOfAModelFitOneSegmentOnCudaAndOneMebibyteSegmentsOnCpu()
    {
        var ps = Enumerable.Range(0, 224).Select(i => P($"p{i}", 16, 2048)).ToArray(); // Llama-3.2-1B, r16, 7 targets
        var segment = Assert.Single(FlatLayout.Of(ps, FlatLayout.MaxSegmentElementsFor(Device.Cuda)));
        Assert.Equal(224L * 16 * 2048, segment.ElementCount);
        var cpu = FlatLayout.Of(ps, FlatLayout.MaxSegmentElementsFor(Device.Cpu));
        Assert.Equal(224 * 16 * 2048 / (1 << 18), cpu.Count);
        Assert.All(cpu, s => Assert.Equal([1L << 18], s.Shape));
    }
}
