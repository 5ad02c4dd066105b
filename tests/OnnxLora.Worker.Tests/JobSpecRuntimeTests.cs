// A job's runtime settings are fixed by its spec: config.runtime binds like the train config's runtime group,
// over the server's Worker:Runtime defaults, and the stored spec carries the effective values, so whichever
// worker claims the job (whatever its process environment) runs it with the same device, TF32 and threads.
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Config;
using OnnxLora.Worker.Spec;

namespace OnnxLora.Worker.Tests;

public sealed class JobSpecRuntimeTests
{
    private static WorkerOptions Options(Dictionary<string, string>? runtime = null) => new()
    {
        ModelRoots = [TinyWorld.ModelRoot],
        DatasetRoots = [TinyWorld.DatasetRoot],
        Runtime = runtime ?? [],
    };

    private static string Spec(string config) =>
        $$"""{"model": "{{TinyWorld.ModelName}}", "dataset": "{{TinyWorld.DatasetName}}", "config": {{config}}}""";

    private static RuntimeOptions StoredRuntime(JobSpec spec) => TrainConfigLoader.ParseJson(spec.Config!).Runtime;

    [Fact]
    public void ConfigRuntimeGroupIsBoundAndStoredInTheSpec()
    {
        var spec = JobSpecParser.Parse(Spec("""{"runtime": {"tf32": true, "threads": 1, "cpu_arena": false, "session_config": {"session.intra_op.allow_spinning": "0"}}}"""), Options());
        var r = StoredRuntime(JobSpec.FromJson(spec.ToJson())); // as the claiming worker reads it back from the store
        Assert.True(r.Tf32);
        Assert.Equal(1, r.Threads);
        Assert.False(r.CpuArena);
        Assert.Equal("0", r.SessionConfig["session.intra_op.allow_spinning"]);
        Assert.Equal(Device.Cpu, r.Device);
    }

    [Fact]
    public void ServerDefaultsApplyUnderTheJobsOwnValues()
    {
        var options = Options(new() { ["tf32"] = "true", ["Threads"] = "2" });
        var defaulted = StoredRuntime(JobSpecParser.Parse(Spec("{}"), options));
        Assert.True(defaulted.Tf32);
        Assert.Equal(2, defaulted.Threads);
        var overridden = StoredRuntime(JobSpecParser.Parse(Spec("""{"runtime": {"tf32": false}}"""), options));
        Assert.False(overridden.Tf32);
        Assert.Equal(2, overridden.Threads);
    }

    [Fact]
    public void TopLevelDeviceKeyIsStillAccepted() =>
        Assert.Equal(Device.Cuda, StoredRuntime(JobSpecParser.Parse(Spec("""{"device": "cuda"}"""), Options())).Device);

    [Theory]
    [InlineData("""{"runtime": {"device": "tpu"}}""", "config.runtime.device", "runtime.device 'tpu' is unknown (expected cpu, cuda)")]
    [InlineData("""{"runtime": {"cuda_arena": "huge"}}""", "config.runtime.cuda_arena", "runtime.cuda_arena 'huge' is unknown")]
    [InlineData("""{"runtime": {"threads": -2}}""", "config.runtime.threads", "runtime.threads must be >= 0")]
    [InlineData("""{"runtime": {"gpus": 2}}""", "config.runtime.gpus", "unknown key 'runtime.gpus'")]
    public void BadRuntimeValueNamesTheField(string config, string field, string message)
    {
        var e = Assert.Throws<JobSpecException>(() => JobSpecParser.Parse(Spec(config), Options()));
        Assert.Equal(field, e.Field);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadServerDefaultNamesTheWorkerSetting()
    {
        var e = Assert.Throws<ConfigException>(() => Options(new() { ["device"] = "tpu" }).RuntimeDefaults());
        Assert.Equal("runtime.device", e.Key);
        Assert.StartsWith("Worker:Runtime: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("runtime.device 'tpu' is unknown", e.Message, StringComparison.Ordinal);
    }
}
