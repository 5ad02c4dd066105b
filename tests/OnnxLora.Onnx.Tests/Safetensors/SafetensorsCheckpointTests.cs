// Sharded checkpoints: the fixture split into two shards plus model.safetensors.index.json,
// looked up through one SafetensorsCheckpoint. Also the single-file and missing-path cases.
// Index errors (missing shard, tensor absent from its shard) live in SafetensorsValidationTests.
using System.Text.Json;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsCheckpointTests
{
    private static string FixtureModel => Path.Combine(TestPaths.Fixtures, "tiny-llama", "base", "model.safetensors");

    [Fact]
    public void ShardedCheckpointServesEveryTensorFromItsShard()
    {
        using var dir = new TempDirectory();
        using SafetensorsFile source = SafetensorsFile.Open(FixtureModel);
        Dictionary<string, string> weightMap = SplitIntoTwoShards(source, dir.Path);

        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(dir.Path);

        Assert.Equal(dir.File(SafetensorsCheckpoint.IndexFileName), checkpoint.IndexPath);
        Assert.Equal("607488", checkpoint.Metadata["total_size"]);
        Assert.Equal(2, checkpoint.ShardPaths.Count);
        Assert.Equal(source.Names.OrderBy(n => n, StringComparer.Ordinal), checkpoint.Names.OrderBy(n => n, StringComparer.Ordinal));
        foreach (string name in source.Names)
        {
            Assert.True(checkpoint.Contains(name));
            SafetensorsTensorInfo info = checkpoint.GetInfo(name);
            Assert.Equal(dir.File(weightMap[name]), info.FilePath);
            Assert.Equal(source.GetInfo(name).Shape, info.Shape);
            Assert.True(source.GetBytes(name).SequenceEqual(checkpoint.GetBytes(name)), name);
        }

        float[] viaCopy = new float[64];
        checkpoint.CopyAsFloat32("model.norm.weight", viaCopy);
        Assert.Equal(source.ReadAsFloat32("model.norm.weight"), viaCopy);
        Assert.Equal(source.ReadAsFloat32("lm_head.weight"), checkpoint.ReadAsFloat32("lm_head.weight"));
        checkpoint.VerifyAllShards();
    }

    [Fact]
    public void OpensIndexJsonPathDirectly()
    {
        using var dir = new TempDirectory();
        using SafetensorsFile source = SafetensorsFile.Open(FixtureModel);
        SplitIntoTwoShards(source, dir.Path);

        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(dir.File(SafetensorsCheckpoint.IndexFileName));

        Assert.Equal(source.Names.Count, checkpoint.Names.Count);
    }

    [Fact]
    public void OpensSingleSafetensorsFileByPath()
    {
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(FixtureModel);

        Assert.Null(checkpoint.IndexPath);
        Assert.Single(checkpoint.ShardPaths);
        Assert.Equal(21, checkpoint.Names.Count);
    }

    [Fact]
    public void UnknownTensorThrowsKeyNotFoundNamingIt()
    {
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(FixtureModel);

        var ex = Assert.Throws<KeyNotFoundException>(() => checkpoint.GetInfo("nope"));
        Assert.Contains("'nope'", ex.Message);
    }

    [Fact]
    public void EmptyDirectoryThrowsFileNotFound()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path));
    }

    /// <summary>Writes the first half of source's tensors to shard 1, the rest to shard 2, plus the index.</summary>
    internal static Dictionary<string, string> SplitIntoTwoShards(SafetensorsFile source, string directory)
    {
        const string Shard1 = "model-00001-of-00002.safetensors";
        const string Shard2 = "model-00002-of-00002.safetensors";
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] names = source.Names.ToArray();
        int half = names.Length / 2;
        WriteShard(Shard1, names[..half]);
        WriteShard(Shard2, names[half..]);

        var index = new
        {
            metadata = new { total_size = names.Sum(n => source.GetInfo(n).Length) },
            weight_map = weightMap,
        };
        File.WriteAllText(Path.Combine(directory, SafetensorsCheckpoint.IndexFileName), JsonSerializer.Serialize(index));
        return weightMap;

        void WriteShard(string shardName, string[] shardTensors)
        {
            SafetensorsTensor[] tensors = shardTensors
                .Select(n =>
                {
                    SafetensorsTensorInfo info = source.GetInfo(n);
                    return new SafetensorsTensor(n, info.DType, info.Shape, source.GetBytes(n).ToArray());
                })
                .ToArray();
            SafetensorsWriter.Write(Path.Combine(directory, shardName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            foreach (string n in shardTensors)
            {
                weightMap[n] = shardName;
            }
        }
    }
}
