// `onnxlora import` on the fixture and on broken copies of it: each bad input gives one clear
// line naming the file/key/tensor, and no output folder (not even a partial one) is left behind.
using System.Text.Json.Nodes;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;

namespace OnnxLora.Models.Tests;

public sealed class HfImporterTests
{
    [Fact]
    public void WritesTheGenAiLayout()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["out"]);
        foreach (var f in new[] { "model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json", "tokenizer_config.json" })
        {
            Assert.True(File.Exists(Path.Combine(dir["out"], f)), f);
        }
        var model = ModelReader.Load(Path.Combine(dir["out"], "model.onnx"));
        Assert.Equal(["input_ids", "attention_mask", "past_key_values.0.key", "past_key_values.0.value", "past_key_values.1.key", "past_key_values.1.value"],
            model.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(2, model.Graph.Nodes.Count(n => n.OpType == "GroupQueryAttention"));
        Assert.Equal([64L, 64L], model.Graph.Initializers["model.layers.0.attn.q_proj.MatMul.weight"].Dims);
        Assert.Equal([64L, 32L], model.Graph.Initializers["model.layers.0.attn.k_proj.MatMul.weight"].Dims); // 2 KV heads × 16
        Assert.Equal([64L, 512L], model.Graph.Initializers["lm_head.MatMul.weight"].Dims);
        Assert.Empty(Directory.GetDirectories(dir.Path, ".out.tmp-*"));
    }

    [Fact]
    public void MissingConfigIsAClearError() =>
        AssertFails(dir => File.Delete(Path.Combine(dir, "config.json")), "config.json not found");

    [Fact]
    public void OtherModelTypeIsRejected() =>
        AssertFails(dir => EditConfig(dir, c => c["model_type"] = "mistral"), "model_type is 'mistral', only 'llama' is supported");

    [Fact]
    public void WeightShapeDisagreeingWithConfigNamesTheTensor() =>
        AssertFails(dir => EditConfig(dir, c => c["intermediate_size"] = 128),
            "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [160,64], config.json implies [128,64]");

    [Fact]
    public void TruncatedSafetensorsIsRejected() =>
        AssertFails(dir =>
        {
            var p = Path.Combine(dir, "model.safetensors");
            var bytes = File.ReadAllBytes(p);
            File.WriteAllBytes(p, bytes[..(bytes.Length / 2)]);
        }, "model.safetensors");

    [Fact]
    public void UnknownDtypeIsRejected() =>
        AssertFails(dir =>
        {
            // Rewrite the first dtype in the header to one safetensors does not define (same length keeps offsets valid).
            var p = Path.Combine(dir, "model.safetensors");
            var bytes = File.ReadAllBytes(p);
            var header = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)BitConverter.ToInt64(bytes, 0));
            int at = header.IndexOf("\"F32\"", StringComparison.Ordinal);
            System.Text.Encoding.UTF8.GetBytes("\"Q32\"").CopyTo(bytes, 8 + at);
            File.WriteAllBytes(p, bytes);
        }, "unknown dtype 'Q32'");

    [Fact]
    public void DtypeConversionToFloat16HalvesTheWeights()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["fp16"], Onnx.Ir.ElementType.Float16);
        var model = ModelReader.Load(Path.Combine(dir["fp16"], "model.onnx"));
        Assert.Equal(Onnx.Ir.ElementType.Float16, model.Graph.Initializers["lm_head.MatMul.weight"].Type);
    }

    private static void AssertFails(Action<string> breakIt, string expected)
    {
        using var dir = new TempDir();
        var src = dir["hf"];
        Directory.CreateDirectory(src);
        foreach (var f in Directory.GetFiles(Fixture.Base))
        {
            File.Copy(f, Path.Combine(src, Path.GetFileName(f)));
        }
        breakIt(src);
        var e = Assert.Throws<ModelFormatException>(() => HfImporter.Import(src, dir["out"]));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(dir["out"]));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".out.tmp-*"));
    }

    private static void EditConfig(string dir, Action<JsonObject> edit)
    {
        var p = Path.Combine(dir, "config.json");
        var c = (JsonObject)JsonNode.Parse(File.ReadAllText(p))!;
        edit(c);
        File.WriteAllText(p, c.ToJsonString());
    }
}
