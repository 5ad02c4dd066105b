// The `runtime:` group of the train config: bound from YAML, JSON and --set style overrides over caller
// defaults, the old top-level `device:` key still accepted, errors naming the key, and the effective options
// written into (and read back from) the run's config.json.
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Config;

namespace OnnxLora.Training.Tests.Config;

public sealed class RuntimeConfigTests
{
    private const string Yaml = """
        model: m
        data: d
        runtime:
          device: cuda
          tf32: true
          cpu_arena: false
          cuda_arena: next_power_of_two
          threads: 3
          memory_pattern: true
          spinning: true
          profile_prefix: prof/run
          session_config:
            session.intra_op.allow_spinning: "0"
            session.disable_prepacking: "1"
        """;

    [Fact]
    public void YamlBindsEveryRuntimeKey() => AssertAllSet(TrainConfigLoader.ParseYaml(Yaml).Runtime);

    [Fact]
    public void JsonBindsEveryRuntimeKey()
    {
        const string json = """
            {"model": "m", "data": "d", "runtime": {"device": "cuda", "tf32": true, "cpu_arena": false,
             "cuda_arena": "next_power_of_two", "threads": 3, "memory_pattern": true, "spinning": true, "profile_prefix": "prof/run",
             "session_config": {"session.intra_op.allow_spinning": "0", "session.disable_prepacking": "1"}}}
            """;
        AssertAllSet(TrainConfigLoader.ParseJson(json).Runtime);
    }

    [Fact]
    public void SetOverridesBindEveryRuntimeKey()
    {
        var c = TrainConfigLoader.ApplyOverrides(new TrainConfig(),
        [
            new("runtime.device", "cuda"), new("runtime.tf32", "true"), new("runtime.cpu_arena", "false"),
            new("runtime.cuda_arena", "next_power_of_two"), new("runtime.threads", "3"), new("runtime.memory_pattern", "true"),
            new("runtime.spinning", "true"), new("runtime.profile_prefix", "prof/run"),
            new("runtime.session_config", "session.intra_op.allow_spinning=0; session.disable_prepacking=1"),
        ]);
        AssertAllSet(c.Runtime);
    }

    [Fact]
    public void DefaultsFromTheCallerAreKeptUnlessTheFileOrAFlagSaysOtherwise()
    {
        string path = Path.Combine(Path.GetTempPath(), $"onnxlora-cfg-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, "model: m\ndata: d\nruntime:\n  threads: 5\n");
        try
        {
            var defaults = new TrainConfig { Runtime = new RuntimeOptions { Tf32 = true, Threads = 2, CpuArena = false } };
            var c = TrainConfigLoader.Load(path, [new("runtime.cpu_arena", "true")], defaults);
            Assert.True(c.Runtime.Tf32);      // default kept
            Assert.Equal(5, c.Runtime.Threads); // file wins over the default
            Assert.True(c.Runtime.CpuArena);  // flag wins over the default
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TopLevelDeviceKeyStillSetsRuntimeDevice()
    {
        Assert.Equal(Device.Cuda, TrainConfigLoader.ParseYaml("device: cuda\n").Runtime.Device);
        Assert.Equal(Device.Cuda, TrainConfigLoader.ParseJson("""{"device": "cuda"}""").Runtime.Device);
        Assert.Equal(Device.Cuda, TrainConfigLoader.ApplyOverrides(new TrainConfig(), [new("--device", "cuda")]).Runtime.Device);
    }

    [Theory]
    [InlineData("runtime.device", "gpu", "--runtime.device: runtime.device 'gpu' is unknown (expected cpu, cuda)")]
    [InlineData("runtime.cuda_arena", "pow2", "--runtime.cuda_arena: runtime.cuda_arena 'pow2' is unknown (expected same_as_requested, next_power_of_two)")]
    [InlineData("runtime.session_config", "novalue", "--runtime.session_config: runtime.session_config entry 'novalue' must look like key=value")]
    [InlineData("runtime.gpu", "0", "--runtime.gpu: unknown key 'runtime.gpu'")]
    public void BadOverrideNamesTheKey(string key, string value, string message)
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfigLoader.ApplyOverrides(new TrainConfig(), [new(key, value)]));
        Assert.Equal(key, e.Key);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void SessionConfigMustBeAMappingInYaml()
    {
        var e = Assert.Throws<ConfigException>(() => TrainConfigLoader.ParseYaml("runtime:\n  session_config: [a, b]\n", "t.yaml"));
        Assert.Equal("runtime.session_config", e.Key);
        Assert.StartsWith("t.yaml:2: runtime.session_config", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SavedConfigRecordsTheEffectiveRuntimeAndReadsItBack()
    {
        var c = TrainConfigLoader.ParseYaml(Yaml);
        string json = TrainConfigLoader.ToJson(c);
        Assert.Contains("\"device\": \"cuda\"", json);
        Assert.Contains("\"cuda_arena\": \"next_power_of_two\"", json);
        Assert.Contains("\"tf32\": true", json);
        Assert.Contains("\"threads\": 3", json);
        Assert.Contains("\"session.intra_op.allow_spinning\": \"0\"", json);
        Assert.DoesNotContain("\n  \"device\"", json); // only inside the runtime group
        var back = TrainConfigLoader.ParseJson(json);
        AssertAllSet(back.Runtime);
        Assert.Equal(json, TrainConfigLoader.ToJson(back));
    }

    [Fact]
    public void DefaultRuntimeIsCpuWithoutTf32AndRoundTrips()
    {
        string json = TrainConfigLoader.ToJson(new TrainConfig());
        Assert.Contains("\"runtime\": {", json);
        var r = TrainConfigLoader.ParseJson(json).Runtime;
        Assert.Equal(Device.Cpu, r.Device);
        Assert.False(r.Tf32);
        Assert.True(r.CpuArena);
        Assert.Equal(CudaArenaStrategy.SameAsRequested, r.CudaArena);
        Assert.Equal(0, r.Threads);
        Assert.Null(r.ProfilePrefix);
        Assert.Empty(r.SessionConfig);
    }

    private static void AssertAllSet(RuntimeOptions r)
    {
        Assert.Equal(Device.Cuda, r.Device);
        Assert.True(r.Tf32);
        Assert.False(r.CpuArena);
        Assert.Equal(CudaArenaStrategy.NextPowerOfTwo, r.CudaArena);
        Assert.Equal(3, r.Threads);
        Assert.True(r.MemoryPattern);
        Assert.True(r.Spinning);
        Assert.Equal("prof/run", r.ProfilePrefix);
        Assert.Equal(2, r.SessionConfig.Count);
        Assert.Equal("0", r.SessionConfig["session.intra_op.allow_spinning"]);
        Assert.Equal("1", r.SessionConfig["session.disable_prepacking"]);
    }
}
