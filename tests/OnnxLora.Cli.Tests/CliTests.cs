// The `onnxlora` CLI as users run it: every command answers --help with its usage and exit 0, and
// `merge` with a folder that is not a PEFT adapter prints one "error:" line, exits 1 and writes nothing.
namespace OnnxLora.Cli.Tests;

public sealed class CliTests
{
    public static readonly TheoryData<string> Commands =
    [
        "import", "parity", "train", "merge", "init-model", "quickstart", "eval", "export-adapter", "generate", "chat", "tokenize", "bench-decode",
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
}
