// Config parsing, overrides, errors naming key and file:line, and the saved JSON round trip.
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Config;

namespace OnnxLora.Training.Tests.Config;

public sealed class TrainConfigTests
{
    private const string Yaml = """
        model: models/tiny
        data: train.jsonl
        lr: 1e-4
        schedule: cosine
        lora:
          r: 8
          alpha: 16
          targets: [q_proj, v_proj]
          layers: [0, 1]
        max_steps: 50
        packing: true
        memory:
          loss_chunks: 4
          recompute_logits: true
          attention_blocks: 8
        """;

    private static string Write(string text, string ext)
    {
        string path = Path.Combine(Path.GetTempPath(), $"onnxlora-cfg-{Guid.NewGuid():N}{ext}");
        File.WriteAllText(path, text);
        return path;
    }

    private static string LoadError(string text, string ext = ".yaml")
    {
        string path = Write(text, ext);
        try
        {
            return Assert.Throws<ConfigException>(() => TrainConfigLoader.Load(path)).Message;
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void YamlSetsValuesAndKeepsDefaults()
    {
        var c = TrainConfigLoader.ParseYaml(Yaml);
        Assert.Equal("models/tiny", c.Model);
        Assert.Equal(1e-4, c.Lr);
        Assert.Equal("cosine", c.Schedule);
        Assert.Equal(8, c.Lora.R);
        Assert.Equal(["q_proj", "v_proj"], c.Lora.Targets);
        Assert.Equal([0, 1], c.Lora.Layers!);
        Assert.Equal(50, c.MaxSteps);
        Assert.True(c.Packing);
        Assert.Equal(8, c.BatchSize);
        Assert.Equal(42, c.Seed);
        Assert.Equal(2.0, c.Lora.ToSettings(c.Seed).Scaling);
        Assert.Equal(4, c.Memory.LossChunks);
        Assert.True(c.Memory.RecomputeLogits);
        Assert.True(c.Memory.RecomputeAttention);
        Assert.Equal(8, c.Memory.AttentionBlocks);
    }

    [Fact]
    public void LoraBlockDefaultsAreTheProjectLoraDefaults()
    {
        // One home (Peft.Default*): a config without a "lora:" block trains what new LoraSettings describe.
        Assert.Equal(new Rewrite.Lora.LoraSettings { Seed = 3 }, new LoraConfig().ToSettings(3));
        Assert.Equal((16, 32.0), (new LoraConfig().R, new LoraConfig().Alpha));
    }

    [Fact]
    public void OverridesWinOverFile()
    {
        string path = Write(Yaml, ".yaml");
        var c = TrainConfigLoader.Load(path, [new("--lr", "3e-4"), new("lora-r", "4"), new("lora.targets", "all-linear"), new("device", "cuda")]);
        File.Delete(path);
        Assert.Equal(3e-4, c.Lr);
        Assert.Equal(4, c.Lora.R);
        Assert.Equal(["all-linear"], c.Lora.Targets);
        Assert.Equal(Device.Cuda, c.Runtime.Device);
    }

    [Fact]
    public void UnknownKeyNamesFileLineAndKey()
    {
        string error = LoadError("model: m\ndata: d\nlearning_rate: 0.1\n");
        Assert.Matches(@"^onnxlora-cfg-[0-9a-f]+\.yaml:3: unknown key 'learning_rate'$", error);
    }

    [Fact]
    public void UnknownNestedKeyIsNamed() =>
        Assert.EndsWith(":4: unknown key 'lora.rank'", LoadError("model: m\ndata: d\nlora:\n  rank: 4\n"));

    [Theory]
    [InlineData("lr: 0", "3: lr must be > 0")]
    [InlineData("lora:\n  r: 0", "4: lora.r must be > 0")]
    [InlineData("batch_size: 0", "3: batch_size must be >= 1")]
    [InlineData("val_split: 1", "3: val_split must be in [0, 1)")]
    [InlineData("schedule: step", "3: schedule 'step' is unknown")]
    [InlineData("device: tpu", "3: device 'tpu' is unknown (expected cpu, cuda)")]
    [InlineData("runtime:\n  device: tpu", "4: runtime.device 'tpu' is unknown (expected cpu, cuda)")]
    [InlineData("runtime:\n  cuda_arena: pow3", "4: runtime.cuda_arena 'pow3' is unknown (expected same_as_requested, next_power_of_two)")]
    [InlineData("runtime:\n  threads: -1", "4: runtime.threads must be >= 0")]
    [InlineData("runtime:\n  tf32: maybe", "4: runtime.tf32 must be true or false, got 'maybe'")]
    [InlineData("memory:\n  loss_chunks: 0", "4: memory.loss_chunks must be >= 1")]
    [InlineData("memory:\n  attention_blocks: 0", "4: memory.attention_blocks must be >= 1 (1: full attention)")]
    public void OutOfRangeValueNamesKeyAndLine(string line, string message)
    {
        string error = LoadError("model: m\ndata: d\n" + line + "\n");
        Assert.Contains(":" + message, error);
    }

    [Fact]
    public void WrongTypeIsNamed() =>
        Assert.EndsWith(":3: epochs must be an integer, got 'many'", LoadError("model: m\ndata: d\nepochs: many\n"));

    [Fact]
    public void JsonUnknownKeyIsNamed() =>
        Assert.EndsWith(": unknown key 'bogus'", LoadError("{\"model\": \"m\", \"data\": \"d\", \"bogus\": 1}", ".json"));

    [Fact]
    public void MissingModelIsReported()
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfigLoader.Load(null, [new("data", "d")]));
        Assert.Equal("model", e.Key);
    }

    [Fact]
    public void SavedJsonLoadsBackToTheSameConfig()
    {
        var c = TrainConfigLoader.ParseYaml(Yaml);
        string json = TrainConfigLoader.ToJson(c);
        Assert.Contains("\"max_seq_len\": 1024", json);
        Assert.Contains("\"beta1\": 0.9", json);
        Assert.Contains("\"target_regex\": null", json);
        string path = Write(json, ".json");
        var back = TrainConfigLoader.Load(path);
        File.Delete(path);
        Assert.Equal(json, TrainConfigLoader.ToJson(back));
    }
}
