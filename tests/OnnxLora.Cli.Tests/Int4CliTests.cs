// QLoRA from the command line: `train` on the model builder's -p int4 folder (MatMulNBits) and `export-adapter`
// of the result with an adapter-ready model over the int4 base; and the one-line refusals, with nothing written,
// of int4 weights we cannot train or adapt: another bit width, prepacked weights, and a block size that does not
// divide K where the builder would have padded K to whole blocks (B then holds too few blocks).
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Cli.Tests;

public sealed class Int4CliTests : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void TrainOnInt4BuilderFolderThenExportAdapterOverTheInt4Base()
    {
        var int4 = BuilderLayout.Write(Fixture.Base, _dir["int4"], new BuilderOptions { Int4 = "sym" });
        var run = _dir["run"];
        var t = CliProcess.Run("train", "--model", int4, "--data", Data(), "-o", run, "--max-steps", "2", "--batch-size", "2", "--max-seq-len", "32", "--lora-r", "2");
        Assert.True(t.ExitCode == 0, t.StdOut + t.StdErr);
        var adapter = Directory.GetFiles(run, "adapter_model.safetensors", SearchOption.AllDirectories).First();
        var file = _dir["a.onnx_adapter"];
        var e = CliProcess.Run("export-adapter", "--model", int4, "--adapter", Path.GetDirectoryName(adapter)!, "-o", file, "--ready-model", _dir["ready"]);
        Assert.True(e.ExitCode == 0, e.StdOut + e.StdErr);
        Assert.True(File.Exists(file));
        // the adapter is fingerprinted on the int4 base: the float folder of the same checkpoint is another base
        var fp32 = BuilderLayout.Write(Fixture.Base, _dir["fp32"], new BuilderOptions());
        var other = _dir["b.onnx_adapter"];
        var refused = CliProcess.Run("export-adapter", "--model", fp32, "--adapter", Path.GetDirectoryName(adapter)!, "-o", other);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("another base", refused.StdErr, StringComparison.Ordinal);
        Assert.False(File.Exists(other));
    }

    [Theory]
    [InlineData("bits", "bits=8 is not supported")]
    [InlineData("weight_prepacked", "weight_prepacked=1")]
    [InlineData("unpadded", "block_size 32 does not divide K=170")]
    public void UnsupportedInt4WeightsAreRefusedInOneLineWithNothingWritten(string defect, string expected)
    {
        var int4 = BuilderLayout.Write(Fixture.Base, _dir["int4-" + defect], new BuilderOptions { Int4 = "asym" });
        var model = ModelReader.Load(Path.Combine(int4, "model.onnx"));
        var node = model.Graph.Nodes.First(n => n.OpType == "MatMulNBits" && n.Name.Contains("down_proj", StringComparison.Ordinal));
        switch (defect)
        {
            case "bits":
                node.SetAttribute("bits", 8L);
                break;
            case "weight_prepacked":
                node.SetAttribute("weight_prepacked", 1L);
                break;
            default:
                node.SetAttribute("K", 170L); // 5 blocks stored for K=160; K=170 would need 6, the last zero-padded
                break;
        }
        var bad = _dir["bad-" + defect];
        ModelWriter.Save(model, Path.Combine(bad, "model.onnx"), new ExternalDataOptions { DataFileName = "model.onnx.data" });
        foreach (var f in new[] { "genai_config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            File.Copy(Path.Combine(int4, f), Path.Combine(bad, f));
        }

        var run = _dir["run-" + defect];
        var t = CliProcess.Run("train", "--model", bad, "--data", Data(), "-o", run, "--max-steps", "1", "--batch-size", "2", "--max-seq-len", "32");
        AssertRefused(t, node, expected);
        Assert.False(Directory.Exists(run), "train wrote a run folder for a model it refused");

        var file = _dir["x-" + defect + ".onnx_adapter"];
        var ready = _dir["ready-" + defect];
        var e = CliProcess.Run("export-adapter", "--model", bad, "--adapter", Fixture.Adapter, "-o", file, "--ready-model", ready);
        AssertRefused(e, node, expected);
        Assert.False(File.Exists(file));
        Assert.False(Directory.Exists(ready));
    }

    private static void AssertRefused(CliResult r, Node node, string expected)
    {
        Assert.NotEqual(0, r.ExitCode);
        var error = r.StdErr.Trim();
        Assert.DoesNotContain('\n', error);
        Assert.Contains($"MatMulNBits node '{node.Name}'", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    private string Data()
    {
        var path = _dir["d.jsonl"];
        if (!File.Exists(path))
        {
            File.WriteAllLines(path, Enumerable.Repeat("""{"text": "Arr, the sea be calm today, matey."}""", 8));
        }
        return path;
    }

    public void Dispose() => _dir.Dispose();
}
