// Reads the real tiny-llama checkpoint produced by transformers: tensor count, shapes,
// dtypes, metadata and a few values checked against Python's struct.unpack of the file.
// Read-only; the fixture is never modified.
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsFixtureTests
{
    private const int TensorCount = 21; // embed + lm_head + norm + 2 layers × 9
    private const long HeaderLength = 2144;

    private static string BaseDir => Path.Combine(TestPaths.Fixtures, "tiny-llama", "base");

    private static string ModelPath => Path.Combine(BaseDir, "model.safetensors");

    [Fact]
    public void FixtureHasExpectedTensorsShapesAndMetadata()
    {
        using SafetensorsFile file = SafetensorsFile.Open(ModelPath);

        Assert.Equal(TensorCount, file.Names.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(8 + HeaderLength, file.DataStart);
        Assert.All(file.Names, n => Assert.Equal(SafetensorsDType.F32, file.GetInfo(n).DType));

        AssertShape(file, "model.embed_tokens.weight", [512, 64]);
        AssertShape(file, "lm_head.weight", [512, 64]);
        AssertShape(file, "model.norm.weight", [64]);
        AssertShape(file, "model.layers.0.self_attn.q_proj.weight", [64, 64]);
        AssertShape(file, "model.layers.1.self_attn.k_proj.weight", [32, 64]);
        AssertShape(file, "model.layers.1.mlp.down_proj.weight", [64, 160]);
        AssertShape(file, "model.layers.0.mlp.gate_proj.weight", [160, 64]);
        Assert.False(file.Contains("model.layers.2.mlp.up_proj.weight"));
    }

    [Fact]
    public void FixtureValuesMatchPythonReference()
    {
        using SafetensorsFile file = SafetensorsFile.Open(ModelPath);

        SafetensorsTensorInfo embed = file.GetInfo("model.embed_tokens.weight");
        Assert.Equal(file.DataStart + 131072, embed.Offset);
        Assert.Equal(512 * 64 * 4, embed.Length);
        Assert.Equal(Path.GetFullPath(ModelPath), embed.FilePath);

        float[] values = file.ReadAsFloat32("model.embed_tokens.weight");
        Assert.Equal(512 * 64, values.Length);
        Assert.Equal((float)-0.01581430993974209, values[0]);
        Assert.Equal((float)-0.027804609388113022, values[1]);
        Assert.Equal((float)0.0008484455174766481, values[2]);
        Assert.All(file.ReadAsFloat32("model.norm.weight"), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void CheckpointOpensFixtureDirectory()
    {
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(BaseDir);

        Assert.Null(checkpoint.IndexPath);
        Assert.Equal(TensorCount, checkpoint.Names.Count);
        Assert.Equal("pt", checkpoint.Metadata["format"]);
        Assert.Equal([512L, 64L], checkpoint.GetInfo("model.embed_tokens.weight").Shape);
    }

    private static void AssertShape(SafetensorsFile file, string name, long[] shape) =>
        Assert.Equal(shape, file.GetInfo(name).Shape);
}
