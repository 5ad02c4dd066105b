// Schedule values against hand-computed HF get_*_schedule_with_warmup numbers (peak 1e-3, warmup 10, total 110).
using OnnxLora.Training.Config;

namespace OnnxLora.Training.Tests.Config;

public sealed class LrScheduleTests
{
    private const double Tol = 1e-15;

    [Theory]
    [InlineData("linear", 0, 0.0)]
    [InlineData("linear", 5, 5e-4)]
    [InlineData("linear", 10, 1e-3)]
    [InlineData("linear", 60, 5e-4)]      // (110-60)/100
    [InlineData("linear", 110, 0.0)]
    [InlineData("linear", 200, 0.0)]
    [InlineData("cosine", 5, 5e-4)]
    [InlineData("cosine", 10, 1e-3)]
    [InlineData("cosine", 60, 5e-4)]      // 0.5(1+cos(pi/2))
    [InlineData("cosine", 35, 8.535533905932737e-4)] // 0.5(1+cos(pi/4))
    [InlineData("cosine", 110, 0.0)]
    [InlineData("constant", 3, 3e-4)]
    [InlineData("constant", 10, 1e-3)]
    [InlineData("constant", 1000, 1e-3)]
    public void MatchesHandComputedValues(string kind, int step, double expected) =>
        Assert.Equal(expected, new LrSchedule(kind, 1e-3, 10, 110).At(step), Tol);

    [Fact]
    public void NoWarmupStartsAtPeak() =>
        Assert.Equal(2e-4, new LrSchedule("cosine", 2e-4, 0, 100).At(0), Tol);

    [Fact]
    public void UnknownKindIsNamed() =>
        Assert.Equal("schedule", Assert.Throws<ConfigException>(() => new LrSchedule("step", 1, 0, 1)).Key);
}
