// `onnxlora parity --compare` as users run it on the shared fixture without an adapter: the base checks pass,
// and the reference tensors it could not check are printed as "not compared: <name> (<reason>)" lines.
namespace OnnxLora.Cli.Tests;

public sealed class ParityCliTests
{
    [Fact]
    public void CompareWithoutAdapterPassesBaseAndListsWhatItDidNotCompare()
    {
        var r = CliProcess.Run("parity", "--model", Fixture.Base, "--batch", Fixture.Reference, "--compare");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("PASS  base.logits ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("PASS  base.loss ", StringComparison.Ordinal));
        Assert.Contains("not compared: merged.logits (no merged model given", r.StdOut, StringComparison.Ordinal);
        Assert.Contains("not compared: lora.logits (no --adapter given)", lines);
        Assert.Equal(2 + 28, lines.Count(l => l.StartsWith("not compared: ", StringComparison.Ordinal) && l.EndsWith("(no --adapter given)", StringComparison.Ordinal)));
    }
}
