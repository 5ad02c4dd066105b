// The text form of the runtime enums is the snake_case config.json writes, parses back exactly, and a
// wrong value gets one line naming the key and the accepted values.
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Onnx.Tests.Runtime;

public sealed class RuntimeNamesTests
{
    [Fact]
    public void NamesAreSnakeCaseAndParseBack()
    {
        Assert.Equal(["cpu", "cuda"], RuntimeNames.All<Device>());
        Assert.Equal(["same_as_requested", "next_power_of_two"], RuntimeNames.All<CudaArenaStrategy>());
        foreach (var d in Enum.GetValues<Device>())
        {
            Assert.Equal(d, RuntimeNames.Parse<Device>(RuntimeNames.Of(d), "device"));
        }
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("CUDA")]
    [InlineData("")]
    public void UnknownDeviceIsNamedWithTheAcceptedValues(string text)
    {
        var e = Assert.Throws<BadInputException>(() => RuntimeNames.Parse<Device>(text, "--device"));
        Assert.Equal($"--device '{text}' is unknown (expected cpu, cuda)", e.Message);
    }
}
