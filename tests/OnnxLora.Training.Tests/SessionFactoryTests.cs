// --device cuda on the CPU build (what CI runs) fails with one clear line naming the flag and the way to
// get the CUDA build, not with a native stack trace; an unknown device is named too.
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Tests;

public sealed class SessionFactoryTests
{
    [Fact]
    public void CudaOnTheCpuBuildSaysHowToGetTheCudaBuild()
    {
        var model = Path.Combine(Fixture.Base, "model-never-loaded.onnx"); // the provider fails before the model is read
        var e = Assert.Throws<InvalidOperationException>(() => SessionFactory.Create(model, "cuda"));
        Assert.StartsWith("--device cuda: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("-p:OnnxLoraCuda=true", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownDeviceIsNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => SessionFactory.Create("model.onnx", "tpu"));
        Assert.Contains("unknown device 'tpu'", e.Message, StringComparison.Ordinal);
    }
}
