// Merge parity on exporter layouts: folding the fixture adapter into a builder folder (packed qkv_proj, fp32 and
// fp16) or a torch.onnx export (folded, unfolded, with KV cache) gives logits equal to PEFT's merge_and_unload()
// model. A merged torch export stays a torch export: the same graph, inputs, outputs and opset, only weights
// changed, and it runs as it is in ORT with the inputs its users feed (input_ids, attention_mask, position_ids).
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Parity;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class ExporterMergeTests(ExporterFolders fx) : IClassFixture<ExporterFolders>
{
    /// <summary>Merged logits against PEFT's merged model: the acceptance limits of ParityTolerances (absolute).</summary>
    private static readonly double LogitsTolerance = ParityTolerances.Fp32.Logits;
    private static readonly double Fp16LogitsTolerance = ParityTolerances.Fp16.Logits;

    [Fact]
    public void MergedPackedBuilderFolderMatchesPeftMergeAndUnload() => AssertMergedParity(fx.PackedFp32, LogitsTolerance);

    [Fact]
    public void MergedFp16PackedBuilderFolderMatchesPeftAtFp16Tolerance() => AssertMergedParity(fx.PackedFp16, Fp16LogitsTolerance);

    [Theory]
    [InlineData("tiny-llama")]
    [InlineData("tiny-llama-unfolded")]
    [InlineData("tiny-llama-with-past")]
    public void MergedTorchExportMatchesPeftMergeAndUnload(string export) => AssertMergedParity(ExporterFolders.TorchExport(export), LogitsTolerance);

    [Fact]
    public void MergedTorchExportStaysATorchExportAndRunsAsItIs()
    {
        var src = ExporterFolders.TorchExport("tiny-llama");
        var merged = fx.NewPath("merged-torch");
        LoraFold.Merge(src, PeftAdapter.Load(Fixture.Adapter), merged);

        var before = ModelReader.Load(Path.Combine(src, "model.onnx"));
        var after = ModelReader.Load(Path.Combine(merged, "model.onnx"));
        Assert.Equal(before.Graph.Nodes.Select(n => (n.OpType, n.Name)), after.Graph.Nodes.Select(n => (n.OpType, n.Name)));
        Assert.Equal(before.Graph.Inputs.Select(i => i.ToString()), after.Graph.Inputs.Select(i => i.ToString()));
        Assert.Equal(before.Graph.Outputs.Select(i => i.ToString()), after.Graph.Outputs.Select(i => i.ToString()));
        Assert.Equal(before.Graph.Initializers.Keys, after.Graph.Initializers.Keys);
        Assert.Equal(before.Header.OpsetImport.ToString(), after.Header.OpsetImport.ToString());
        Assert.True(File.Exists(Path.Combine(merged, "config.json")) && File.Exists(Path.Combine(merged, "tokenizer.json")));

        // As deployed: ORT on the graph itself, position_ids 0..T-1, no rewriting.
        using var file = SafetensorsFile.Open(Fixture.Reference);
        var ids = file.ReadInt64("input_ids");
        var shape = file.GetInfo("input_ids").Shape; // (B,T)
        long b = shape[0], t = shape[1];
        var positions = Enumerable.Range(0, (int)(b * t)).Select(i => (long)(i % t)).ToArray();
        using var session = new InferenceSession(Path.Combine(merged, "model.onnx"));
        using var idsValue = OrtTensors.Int64(ids, b, t);
        using var mask = OrtTensors.Int64(Enumerable.Repeat(1L, (int)(b * t)).ToArray(), b, t);
        using var pos = OrtTensors.Int64(positions, b, t);
        using var outputs = session.Run(new RunOptions(), ["input_ids", "attention_mask", "position_ids"], [idsValue, mask, pos], ["logits"]);
        var logits = OrtTensors.ToFloats(outputs[0]);
        var expected = file.ReadAsFloat32("merged.logits");
        double diff = logits.Zip(expected, (x, y) => Math.Abs((double)x - y)).Max();
        Assert.True(diff <= LogitsTolerance, $"merged torch export run as deployed: max |Δ| {diff:E2}");
    }

    [Fact]
    public void MergedBuilderFolderKeepsItsDecoderFileName()
    {
        var merged = fx.NewPath("merged-decoder");
        LoraFold.Merge(fx.OtherDecoderFile, PeftAdapter.Load(Fixture.Adapter), merged);
        Assert.True(File.Exists(Path.Combine(merged, "decoder.onnx")));
        Assert.True(File.Exists(Path.Combine(merged, "decoder.onnx.data")));
        Assert.False(File.Exists(Path.Combine(merged, "model.onnx")));
        Assert.Equal("decoder.onnx", GenAiFolder.DecoderFileOf(merged));
    }

    private void AssertMergedParity(string model, double tolerance)
    {
        var merged = fx.NewPath("merged");
        LoraFold.Merge(model, PeftAdapter.Load(Fixture.Adapter), merged);
        var r = ParityRunner.Run(new ParityOptions
        {
            Model = merged, Batch = Fixture.Reference, ReferenceKeys = new Dictionary<string, string> { ["base.logits"] = "merged.logits" },
        });
        var c = Assert.Single(r.Comparisons, x => x.Reference == "merged.logits");
        Assert.True(c.MaxAbs <= tolerance, $"{model}: merged logits max abs error {c.MaxAbs:E2} > {tolerance:E0}");
    }
}
