// The one model-folder writer: its copy rule on a folder holding what users' GenAI folders hold
// (configs, tokenizer and template files, a second ONNX model, stale weight files, adapters, a
// subfolder), the decoder file name as a parameter, and atomic replacement that survives a failure.
using System.Security.Cryptography;
using OnnxLora.Models.Import;
using OnnxLora.Onnx;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Tests;

public sealed class GenAiFolderTests
{
    private const string Weight = "model.layers.0.attn.q_proj.MatMul.weight";

    [Fact]
    public void CopiesEveryCompanionFileButNeverTheOldWeights()
    {
        using var dir = new TempDir();
        var src = UserFolder(dir["src"]);
        var output = dir["out"];

        var folder = GenAiFolder.Open(src);
        folder.Write(folder.LoadDecoder(), output);

        string[] companions =
        [
            "chat_template.jinja", "config.json", "genai_config.json", "generation_config.json", "special_tokens_map.json",
            "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vision.onnx", "vision.onnx.data",
        ];
        Assert.Equal(companions, folder.CompanionFiles());
        Assert.Equal(companions.Append("model.onnx").Append("model.onnx.data").Order(StringComparer.Ordinal), Files(output));
        Assert.All(companions, f => Assert.Equal(Sha(Path.Combine(src, f)), Sha(Path.Combine(output, f))));
        Assert.False(Directory.Exists(Path.Combine(output, "runs")));
        AssertSameWeights(src, output, "model.onnx");
        Assert.Empty(Leftovers(dir.Path));
    }

    [Fact]
    public void WritesTheDecoderUnderTheNameItWasOpenedWith()
    {
        using var dir = new TempDir();
        var src = dir["src"];
        HfImporter.Import(Fixture.Base, src);
        var model = ModelReader.Load(Path.Combine(src, "model.onnx"));
        ModelWriter.Save(model, Path.Combine(src, "text.onnx"), new() { DataFileName = "text.onnx.data", ReferenceFilesInOutputFolder = false });
        File.Delete(Path.Combine(src, "model.onnx"));
        File.Delete(Path.Combine(src, "model.onnx.data"));

        var folder = GenAiFolder.Open(src, "text.onnx");
        folder.Write(folder.LoadDecoder(), dir["out"]);

        Assert.Contains("text.onnx", Files(dir["out"]));
        Assert.Contains("text.onnx.data", Files(dir["out"]));
        Assert.DoesNotContain(Files(dir["out"]), f => f.StartsWith("model.onnx", StringComparison.Ordinal));
        AssertSameWeights(src, dir["out"], "text.onnx");
    }

    [Fact]
    public void ReplacesAnExistingFolderAsAWhole()
    {
        using var dir = new TempDir();
        var src = dir["src"];
        HfImporter.Import(Fixture.Base, src);
        var output = dir["out"];
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "old-only.txt"), "from the previous model");

        var folder = GenAiFolder.Open(src);
        folder.Write(folder.LoadDecoder(), output);

        Assert.False(File.Exists(Path.Combine(output, "old-only.txt")));
        AssertSameWeights(src, output, "model.onnx");
        Assert.Empty(Leftovers(dir.Path));
    }

    [Fact]
    public void FailureWhileWritingWeightsLeavesTheExistingFolderAsItWas()
    {
        using var dir = new TempDir();
        var (folder, output, before) = ExistingOutput(dir);
        var model = folder.LoadDecoder();
        var w = model.Graph.Initializers[Weight];
        model.Graph.Initializers[Weight] = new Initializer(w.Name, w.Type, w.Dims, TensorData.FromGenerator(w.Data.Length, s =>
        {
            s.Write(w.Data.Span[..(int)(w.Data.Length / 2)]);
            throw new IOException("disk full (simulated)");
        }));

        var e = Assert.Throws<IOException>(() => folder.Write(model, output));

        Assert.Equal("disk full (simulated)", e.Message);
        Assert.Equal(before, Snapshot(output));
        Assert.Empty(Leftovers(dir.Path));
    }

    [Fact]
    public void FailureWhileFinishingLeavesTheExistingFolderAsItWas()
    {
        using var dir = new TempDir();
        var (folder, output, before) = ExistingOutput(dir);

        Assert.Throws<InvalidDataException>(() => folder.Write(folder.LoadDecoder(), output, _ => throw new InvalidDataException("bad edit")));

        Assert.Equal(before, Snapshot(output));
        Assert.Empty(Leftovers(dir.Path));
    }

    [Theory]
    [InlineData("../model.onnx")]
    [InlineData("sub/model.onnx")]
    [InlineData("")]
    public void DecoderFileMustBeAFileNameInsideTheFolder(string decoderFile)
    {
        using var dir = new TempDir();
        var e = Assert.Throws<BadInputException>(() => GenAiFolder.Open(dir.Path, decoderFile));
        Assert.Contains("must be a file name inside the model folder", e.Message);
    }

    [Fact]
    public void FolderWithoutTheDecoderIsAClearError()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ModelFormatException>(() => GenAiFolder.Open(dir.Path));
        Assert.Equal($"{dir.Path}: no model.onnx (not an ONNX/GenAI model folder)", e.Message);
    }

    [Fact]
    public void DecoderIsTheOneGenAiConfigNamesElseModelOnnxElseTheOnlyOnnxFile()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["f"]);
        File.WriteAllBytes(Path.Combine(dir["f"], "decoder.onnx"), [1]);
        Assert.Equal("decoder.onnx", GenAiFolder.DecoderFileOf(dir["f"])); // an optimum folder with one model
        File.WriteAllBytes(Path.Combine(dir["f"], "decoder_with_past.onnx"), [1]);
        var e = Assert.Throws<ModelFormatException>(() => GenAiFolder.DecoderFileOf(dir["f"]));
        Assert.Contains("2 .onnx files (decoder.onnx, decoder_with_past.onnx)", e.Message, StringComparison.Ordinal);
        Assert.Contains("pass the decoder's .onnx file itself", e.Message, StringComparison.Ordinal);
        File.WriteAllBytes(Path.Combine(dir["f"], "model.onnx"), [1]);
        Assert.Equal("model.onnx", GenAiFolder.DecoderFileOf(dir["f"]));
        // the builder's filename=… option: genai_config.json's model.decoder.filename wins
        File.WriteAllText(Path.Combine(dir["f"], "genai_config.json"), """{"model": {"decoder": {"filename": "decoder_with_past.onnx"}}}""");
        Assert.Equal("decoder_with_past.onnx", GenAiFolder.DecoderFileOf(dir["f"]));
        Assert.Equal("decoder_with_past.onnx", GenAiFolder.Open(dir["f"]).DecoderFile);
        Assert.Equal("decoder.onnx", GenAiFolder.OpenPath(Path.Combine(dir["f"], "decoder.onnx")).DecoderFile);
        File.WriteAllText(Path.Combine(dir["f"], "genai_config.json"), "{ \"model\": ");
        Assert.Contains("genai_config.json:1: invalid JSON", Assert.Throws<ModelFormatException>(() => GenAiFolder.DecoderFileOf(dir["f"])).Message,
            StringComparison.Ordinal);
    }

    // An imported fixture plus what users' folders also hold. The decoder's weights are moved to "weights.bin"
    // (as optimum's model.onnx_data, any name is possible); model.onnx.data stays behind as a stale copy.
    private static string UserFolder(string src)
    {
        HfImporter.Import(Fixture.Base, src);
        var model = ModelReader.Load(Path.Combine(src, "model.onnx"));
        ModelWriter.Save(model, Path.Combine(src, "model.onnx"), new() { DataFileName = "weights.bin", ReferenceFilesInOutputFolder = false });
        File.WriteAllText(Path.Combine(src, "chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
        File.WriteAllText(Path.Combine(src, "special_tokens_map.json"), """{"bos_token": "<s>"}""");
        File.WriteAllBytes(Path.Combine(src, "vision.onnx"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(src, "vision.onnx.data"), [4, 5, 6]);
        File.WriteAllBytes(Path.Combine(src, "model.onnx_data"), [7]);
        File.WriteAllBytes(Path.Combine(src, "model.onnx.data.tmp-0badf00d"), [8]);
        File.WriteAllBytes(Path.Combine(src, "pirate.onnx_adapter"), [9]);
        Directory.CreateDirectory(Path.Combine(src, "runs"));
        File.WriteAllText(Path.Combine(src, "runs", "notes.txt"), "not part of the model");
        return src;
    }

    private static (GenAiFolder Folder, string Output, Dictionary<string, string> Before) ExistingOutput(TempDir dir)
    {
        HfImporter.Import(Fixture.Base, dir["src"]);
        var folder = GenAiFolder.Open(dir["src"]);
        var output = dir["out"];
        folder.Write(folder.LoadDecoder(), output);
        File.WriteAllText(Path.Combine(output, "marker.txt"), "the folder a user already has");
        return (folder, output, Snapshot(output));
    }

    private static void AssertSameWeights(string srcDir, string outDir, string decoderFile)
    {
        var a = ModelReader.Load(Path.Combine(srcDir, decoderFile)).Graph.Initializers;
        var b = ModelReader.Load(Path.Combine(outDir, decoderFile)).Graph.Initializers;
        Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
        Assert.All(a, kv => Assert.True(kv.Value.Data.Span.SequenceEqual(b[kv.Key].Data.Span), kv.Key));
        Assert.All(b.Values.Select(i => i.Data).OfType<ExternalTensorData>(),
            d => Assert.Equal(Path.GetFullPath(Path.Combine(outDir, decoderFile + ".data")), d.FilePath));
    }

    private static string[] Files(string dir) =>
        Directory.GetFiles(dir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();

    private static Dictionary<string, string> Snapshot(string dir) => Files(dir).ToDictionary(f => f, f => Sha(Path.Combine(dir, f)));

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    // Temp folders (.out.tmp-*) and moved-aside old folders (out.old-*) a writer must not leave behind.
    private static IEnumerable<string> Leftovers(string parent) =>
        Directory.GetDirectories(parent).Where(d => Path.GetFileName(d).Contains(".tmp-", StringComparison.Ordinal)
            || Path.GetFileName(d).Contains(".old-", StringComparison.Ordinal));
}
