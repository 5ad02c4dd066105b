// The README's "bring your own ONNX" commands as users run them: parity with an adapter on a builder folder
// (packed qkv_proj) and on a torch.onnx export; merge of a torch export into a torch export; export-adapter with
// an adapter-ready model of a builder folder; generate on a torch export (ORT picked for a folder without
// genai_config.json); and the one-line refusal of a builder attention form we do not lower.
namespace OnnxLora.Cli.Tests;

public sealed class BringYourOwnOnnxCliTests : IDisposable
{
    private static readonly string s_torch = Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx");

    private readonly TempDir _dir = new();

    [Fact]
    public void ParityWithAdapterPassesOnPackedBuilderFolder()
    {
        var builder = BuilderLayout.Write(Fixture.Base, _dir["builder"], new BuilderOptions());
        var r = CliProcess.Run("parity", "--model", builder, "--adapter", Fixture.Adapter, "--batch", Fixture.Reference, "--compare");
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        Assert.Equal(2 + 2 + 28, r.StdOut.Split('\n').Count(l => l.StartsWith("PASS  ", StringComparison.Ordinal)));
        Assert.DoesNotContain("FAIL", r.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void ParityWithAdapterPassesOnTorchOnnxFile()
    {
        var r = CliProcess.Run("parity", "--model", Path.Combine(s_torch, "tiny-llama-with-past", "model.onnx"), "--adapter", Fixture.Adapter,
            "--batch", Fixture.Reference, "--compare");
        Assert.True(r.ExitCode == 0, r.StdOut + r.StdErr);
        Assert.Equal(2 + 2 + 28, r.StdOut.Split('\n').Count(l => l.StartsWith("PASS  ", StringComparison.Ordinal)));
    }

    [Fact]
    public void MergeOfTorchExportWritesATorchExportThatPassesMergedParity()
    {
        var merged = _dir["merged"];
        var m = CliProcess.Run("merge", "--model", Path.Combine(s_torch, "tiny-llama"), "--adapter", Fixture.Adapter, "-o", merged);
        Assert.True(m.ExitCode == 0, m.StdErr);
        Assert.Contains("merged 14 weights", m.StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(merged, "model.onnx")) && File.Exists(Path.Combine(merged, "config.json")));
        Assert.False(File.Exists(Path.Combine(merged, "genai_config.json")));
        var p = CliProcess.Run("parity", "--model", merged, "--batch", Fixture.Reference, "--compare", "--reference-key", "base.logits=merged.logits");
        Assert.True(p.ExitCode == 0, p.StdOut + p.StdErr);
        Assert.Contains("PASS  base.logits", p.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void ExportAdapterWritesAdapterAndReadyModelForPackedBuilderFolder()
    {
        var builder = BuilderLayout.Write(Fixture.Base, _dir["builder"], new BuilderOptions());
        var file = _dir["fixture.onnx_adapter"];
        var r = CliProcess.Run("export-adapter", "--model", builder, "--adapter", Fixture.Adapter, "-o", file, "--ready-model", _dir["ready"]);
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Contains("wrote 14 targets", r.StdOut, StringComparison.Ordinal);
        Assert.True(File.Exists(file));
        Assert.True(File.Exists(Path.Combine(_dir["ready"], "genai_config.json")));
    }

    [Fact]
    public void GenerateOnTorchExportRunsOnOrt()
    {
        var r = CliProcess.Run("generate", "--model", Path.Combine(s_torch, "tiny-llama-with-past"), "-p", "Hello", "--max-new-tokens", "4");
        Assert.True(r.ExitCode == 0, r.StdErr);
    }

    [Fact]
    public void BuilderAttentionFormWeDoNotLowerIsRefusedInOneLine()
    {
        var builder = BuilderLayout.Write(Fixture.Base, _dir["builder"], new BuilderOptions());
        // The -e cpu -p fp16 form: MultiHeadAttention in place of GroupQueryAttention.
        var model = Onnx.IO.ModelReader.Load(Path.Combine(builder, "model.onnx"));
        var gqa = model.Graph.Nodes.First(n => n.OpType == "GroupQueryAttention");
        var index = model.Graph.Nodes.IndexOf(gqa);
        model.Graph.Nodes[index] = new Onnx.Ir.Node("MultiHeadAttention", "/model/layers.0/attn/MultiHeadAttention", gqa.Inputs.Take(3), gqa.Outputs.Take(1),
            Onnx.Ir.Model.MicrosoftDomain);
        Onnx.IO.ModelWriter.Save(model, Path.Combine(_dir["mha"], "model.onnx"), new Onnx.IO.ExternalDataOptions { DataFileName = "model.onnx.data" });
        var r = CliProcess.Run("parity", "--model", _dir["mha"], "--batch", Fixture.Reference);
        Assert.NotEqual(0, r.ExitCode);
        var error = r.StdErr.Trim();
        Assert.DoesNotContain('\n', error);
        Assert.Contains("MultiHeadAttention node '/model/layers.0/attn/MultiHeadAttention'", error, StringComparison.Ordinal);
        Assert.Contains("re-export with -e cpu -p fp32", error, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
