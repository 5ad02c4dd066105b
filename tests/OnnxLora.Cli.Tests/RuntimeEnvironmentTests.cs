// The CLI edge maps ONNXLORA_* variables to RuntimeOptions defaults: each variable's mapping, one-line
// errors naming a malformed variable or an unknown --device, and, through a real `onnxlora train` child
// process, that the environment's defaults reach the run's config.json while flags override them.
using System.Text.Json;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli.Tests;

public sealed class RuntimeEnvironmentTests
{
    /// <summary>Every variable the mapping reads, unset: the child processes must not inherit the test runner's.</summary>
    private static Dictionary<string, string?> Clean() => RuntimeEnvironment.Variables.ToDictionary(v => v.Variable, _ => (string?)null);

    [Fact]
    public void NoVariablesGiveTheBuiltInDefaults()
    {
        var o = RuntimeEnvironment.Defaults(_ => null);
        Assert.Equal(new RuntimeOptions().Threads, o.Threads);
        Assert.Equal(Device.Cpu, o.Device);
        Assert.False(o.Tf32);
        Assert.True(o.CpuArena);
        Assert.False(o.MemoryPattern);
        Assert.False(o.Spinning);
        Assert.Null(o.ProfilePrefix);
        Assert.Empty(o.SessionConfig);
        Assert.Equal(CudaArenaStrategy.SameAsRequested, o.CudaArena);
    }

    [Fact]
    public void EachVariableSetsItsOption()
    {
        var env = new Dictionary<string, string>
        {
            ["ONNXLORA_THREADS"] = "2",
            ["ONNXLORA_ARENA"] = "0",
            ["ONNXLORA_MEMPATTERN"] = "1",
            ["ONNXLORA_SPINNING"] = "1",
            ["ONNXLORA_SESSION_CONFIG"] = "session.intra_op.allow_spinning=0; session.disable_prepacking=1",
            ["ONNXLORA_PROFILE"] = "/tmp/prof",
            ["ONNXLORA_TF32"] = "1",
            ["ONNXLORA_CUDA_ARENA"] = "pow2",
        };
        var o = RuntimeEnvironment.Defaults(env.GetValueOrDefault);
        Assert.Equal(2, o.Threads);
        Assert.False(o.CpuArena);
        Assert.True(o.MemoryPattern);
        Assert.True(o.Spinning);
        Assert.Equal("0", o.SessionConfig["session.intra_op.allow_spinning"]);
        Assert.Equal("1", o.SessionConfig["session.disable_prepacking"]);
        Assert.Equal("/tmp/prof", o.ProfilePrefix);
        Assert.True(o.Tf32);
        Assert.Equal(CudaArenaStrategy.NextPowerOfTwo, o.CudaArena);
        Assert.Equal(env.Keys.Order(), RuntimeEnvironment.Variables.Select(v => v.Variable).Order());
    }

    [Theory]
    [InlineData("ONNXLORA_THREADS", "two")]
    [InlineData("ONNXLORA_THREADS", "-1")]
    [InlineData("ONNXLORA_TF32", "yes")]
    [InlineData("ONNXLORA_ARENA", "off")]
    [InlineData("ONNXLORA_SPINNING", "on")]
    [InlineData("ONNXLORA_CUDA_ARENA", "pow3")]
    [InlineData("ONNXLORA_SESSION_CONFIG", "novalue")]
    public void MalformedVariableIsNamed(string name, string value)
    {
        var e = Assert.Throws<BadInputException>(() => RuntimeEnvironment.Defaults(n => n == name ? value : null));
        Assert.StartsWith($"environment variable {name}='{value}' is not valid (expected ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedVariableFailsTheCommandInOneLine()
    {
        var env = Clean();
        env["ONNXLORA_THREADS"] = "two";
        var r = CliProcess.RunWithEnvironment(env, "eval", "--model", "no-such-model", "--data", "no-such.jsonl");
        AssertOneErrorLine(r, "error: environment variable ONNXLORA_THREADS='two' is not valid (expected a whole number ≥ 0)");
    }

    [Theory]
    [InlineData("parity", "--model", "m", "--batch", "b.safetensors", "--device", "tpu")]
    [InlineData("generate", "--model", "m", "-p", "hi", "--engine", "ort", "--device", "tpu")]
    public void UnknownDeviceFlagFailsInOneLine(params string[] args) =>
        AssertOneErrorLine(CliProcess.RunWithEnvironment(Clean(), args), "error: --device 'tpu' is unknown (expected cpu, cuda)");

    [Fact]
    public void TrainDeviceFlagIsValidatedAsAConfigKey()
    {
        using var dir = new TempDir();
        var r = CliProcess.RunWithEnvironment(Clean(), "train", "--model", "m", "--data", "d.jsonl", "-o", dir["run"], "--device", "tpu");
        AssertOneErrorLine(r, "error: --device: device 'tpu' is unknown (expected cpu, cuda)");
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void TrainRecordsEnvironmentDefaultsUnderFlagsInConfigJson()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["d.jsonl"], Enumerable.Repeat("""{"text": "Arr, the sea be calm today, matey."}""", 4));
        var env = Clean();
        env["ONNXLORA_TF32"] = "1";
        env["ONNXLORA_THREADS"] = "1";
        env["ONNXLORA_ARENA"] = "0";
        var r = CliProcess.RunWithEnvironment(env, "train", "--model", Fixture.Base, "--data", dir["d.jsonl"], "-o", dir["run"],
            "--max-steps", "1", "--batch-size", "2", "--max-seq-len", "32", "--lora-r", "2", "--threads", "2", "--set", "runtime.cpu_arena=true");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["run"], "config.json")));
        var runtime = saved.RootElement.GetProperty("runtime");
        Assert.True(runtime.GetProperty("tf32").GetBoolean());      // from ONNXLORA_TF32
        Assert.Equal(2, runtime.GetProperty("threads").GetInt32());  // --threads over ONNXLORA_THREADS=1
        Assert.True(runtime.GetProperty("cpu_arena").GetBoolean());  // --set over ONNXLORA_ARENA=0
        Assert.Equal("cpu", runtime.GetProperty("device").GetString());
    }

    private static void AssertOneErrorLine(CliResult r, string expected)
    {
        Assert.Equal(1, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(expected, Assert.Single(lines));
    }
}
