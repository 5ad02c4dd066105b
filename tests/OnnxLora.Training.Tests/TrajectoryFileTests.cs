// A trajectory file with the wrong keys is rejected with the missing key named.
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class TrajectoryFileTests
{
    [Fact]
    public void ThrowsNamingTheMissingKey()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["t.json"], """{"lr": 0.001, "steps": [[1,2,3]], "losses": [1.0]}""");
        var e = Assert.Throws<InvalidDataException>(() => TrajectoryFile.Load(dir["t.json"]));
        Assert.Contains("missing key 'batches'", e.Message);
    }

    [Fact]
    public void ReadsTheFixtureLayout()
    {
        var t = TrajectoryFile.Load(Fixture.Trajectory);
        Assert.Equal(30, t.Steps.Count);
        Assert.Equal(30, t.Losses.Length);
        Assert.All(t.Steps, s => Assert.Equal(-100, s.Labels[0]));
        Assert.Equal(1e-3f, t.LearningRate);
    }
}
