// The `onnxlora` CLI as users run it: every command answers --help with its usage and exit 0, and
// `merge` with a folder that is not a PEFT adapter prints one "error:" line, exits 1 and writes nothing.
namespace OnnxLora.Cli.Tests;

public sealed class CliTests
{
    public static readonly TheoryData<string> Commands =
    [
        "import", "parity", "train", "merge", "quantize", "init-model", "quickstart", "eval", "export-adapter", "generate", "chat", "tokenize", "bench-decode",
    ];

    [Fact]
    public void RootHelpListsEveryCommand()
    {
        var r = CliProcess.Run("--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Usage:", r.StdOut, StringComparison.Ordinal);
        foreach (var c in Commands)
        {
            Assert.Contains(c, r.StdOut, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void CommandHelpPrintsUsageAndExitsZero(string command)
    {
        var r = CliProcess.Run(command, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Usage:", r.StdOut, StringComparison.Ordinal);
        Assert.Contains($"onnxlora {command} ", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("Options:", r.StdOut, StringComparison.Ordinal);
        Assert.Equal("", r.StdErr);
    }

    [Fact]
    public void MergeWithoutAdapterConfigFailsWithOneErrorLineAndNoOutput()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["adapter"]);
        Directory.CreateDirectory(dir["model"]);
        var r = CliProcess.Run("merge", "--model", dir["model"], "--adapter", dir["adapter"], "-o", dir["out"]);
        Assert.Equal(1, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.StartsWith("error:", lines[0], StringComparison.Ordinal);
        Assert.Contains("adapter_config.json", lines[0], StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir["out"]), "a failed merge left an output folder");
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir.Path), p => Path.GetFileName(p).Contains("out", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("int3")]
    [InlineData("int8")]
    public void MergeQuantizeOtherThanInt4FailsWithOneErrorLineAndNoOutput(string kind)
    {
        using var dir = new TempDir();
        var r = CliProcess.Run("merge", "--model", Path.Combine(Fixture.Base), "--adapter", Fixture.Adapter, "-o", dir["out"], "--quantize", kind);
        AssertOneErrorLine(r, $"--quantize {kind}: unsupported (only int4, MatMulNBits bits=4)");
        Assert.False(Directory.Exists(dir["out"]));
    }

    [Fact]
    public void Int4OptionsWithoutQuantizeAreRefused()
    {
        using var dir = new TempDir();
        var r = CliProcess.Run("merge", "--model", Fixture.Base, "--adapter", Fixture.Adapter, "-o", dir["out"], "--block-size", "64");
        AssertOneErrorLine(r, "need --quantize int4");
        Assert.False(Directory.Exists(dir["out"]));
    }

    [Fact]
    public void MergeQuantizeWithABlockSizeThatDoesNotDivideKFailsWithOneErrorLineAndNoOutput()
    {
        using var dir = new TempDir();
        Assert.Equal(0, CliProcess.Run("import", Fixture.Base, "-o", dir["model"]).ExitCode);
        var r = CliProcess.Run("merge", "--model", dir["model"], "--adapter", Fixture.Adapter, "-o", dir["out"], "--quantize", "int4", "--block-size", "64");
        AssertOneErrorLine(r, "block size 64 does not divide K=160 of weight 'model.layers.0.mlp.down_proj.MatMul.weight'");
        Assert.False(Directory.Exists(dir["out"]));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir.Path), p => Path.GetFileName(p).Contains("out", StringComparison.Ordinal));

        r = CliProcess.Run("merge", "--model", dir["model"], "--adapter", Fixture.Adapter, "-o", dir["out"], "--quantize", "int4");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("15 weights quantized, 0 requantized, 0 kept int4, 14 adapter targets folded", r.StdOut, StringComparison.Ordinal);
    }

    private static void AssertOneErrorLine(CliResult r, string expected)
    {
        Assert.Equal(1, r.ExitCode);
        var lines = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.StartsWith("error:", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }
}
