// LoRA injection on the imported fixture: B = 0 reproduces the base exactly, names follow PEFT,
// and bad settings or adapters fail with the offending name in the message.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests;

public sealed class LoraInjectionTests : IClassFixture<LoraInjectionTests.ImportedBase>
{
    private readonly ImportedBase _base;

    public LoraInjectionTests(ImportedBase b) => _base = b;

    public sealed class ImportedBase : IDisposable
    {
        public ImportedBase() => HfImporter.Import(Fixture.Base, Dir.Path);

        public TempDir Dir { get; } = new();

        public string ModelPath => Path.Combine(Dir.Path, "model.onnx");

        public void Dispose() => Dir.Dispose();
    }

    [Fact]
    public void InjectedLoraWithZeroBEqualsBase()
    {
        using var work = new TempDir();
        var baseModel = ModelReader.Load(_base.ModelPath);
        TrainingLowering.Run(baseModel);
        ModelWriter.Save(baseModel, work["base/model.onnx"], new ExternalDataOptions { DataFileName = "base.data" });

        var lora = ModelReader.Load(_base.ModelPath);
        TrainingLowering.Run(lora);
        var (_, targets) = LoraInjection.Run(lora, new LoraSettings { Rank = 4, Alpha = 8 }, training: false);
        ModelWriter.Save(lora, work["lora/model.onnx"], new ExternalDataOptions { DataFileName = "lora.data" });
        Assert.Equal(14, targets.Count);
        Assert.Contains(targets, t => t.A == "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight");

        long[] ids = [1, 5, 9, 33, 200, 7, 2, 11];
        long[] mask = Enumerable.Repeat(1L, ids.Length).ToArray();
        var expected = Logits(work["base/model.onnx"], ids, mask, []);
        var extra = targets.SelectMany(t => new[]
        {
            (t.A, LoraInit.Initialize(t, 7).A, new long[] { t.Rank, t.In }),
            (t.B, new float[t.Out * t.Rank], new long[] { t.Out, t.Rank }),
        }).ToList();
        var actual = Logits(work["lora/model.onnx"], ids, mask, extra);
        Assert.Equal(expected, actual); // bit-identical: x·W + 0
    }

    [Fact]
    public void RejectsUnknownTargetModule()
    {
        var m = ModelReader.Load(_base.ModelPath);
        var e = Assert.Throws<BadInputException>(() => LoraInjection.Run(m, new LoraSettings { TargetModules = ["qkv_proj"] }, false));
        Assert.Contains("unknown LoRA target module 'qkv_proj'", e.Message);
    }

    [Fact]
    public void RejectsNonPositiveRank()
    {
        var m = ModelReader.Load(_base.ModelPath);
        var e = Assert.Throws<BadInputException>(() => LoraInjection.Run(m, new LoraSettings { Rank = 0 }, false));
        Assert.Contains("r must be > 0", e.Message);
    }

    [Fact]
    public void TargetsCanBeChosenByRegexAndLayer()
    {
        var m = ModelReader.Load(_base.ModelPath);
        // PEFT's single-string target_modules: a regex that must match the whole module path.
        var (_, byRegex) = LoraInjection.Run(m, new LoraSettings { TargetRegex = @".*\.mlp\.down_proj" }, false);
        Assert.Equal(2, byRegex.Count);
        Assert.All(byRegex, t => Assert.EndsWith(".mlp.down_proj", t.Module));
        var partial = ModelReader.Load(_base.ModelPath);
        var e = Assert.Throws<RewriteException>(() => LoraInjection.Run(partial, new LoraSettings { TargetRegex = @"down_proj" }, false));
        Assert.Contains("no linear layer matched the LoRA targets (/down_proj/)", e.Message);
        var m2 = ModelReader.Load(_base.ModelPath);
        var (_, byLayer) = LoraInjection.Run(m2, new LoraSettings { Layers = [1] }, false);
        Assert.Equal(7, byLayer.Count);
        Assert.All(byLayer, t => Assert.StartsWith("model.layers.1.", t.Module));
    }

    [Fact]
    public void AdapterWithWrongShapeIsRejectedNamingTheTensor()
    {
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var m = ModelReader.Load(_base.ModelPath);
        var (_, targets) = LoraInjection.Run(m, adapter.Settings with { Rank = 8 }, false);
        var e = Assert.Throws<ModelFormatException>(() => adapter.CheckAgainst(targets, "adapter"));
        Assert.Contains("lora_A.weight' has shape [4,64], the model needs [8,64]", e.Message);
    }

    [Fact]
    public void InitialisationIsAFunctionOfSeedAndModuleOnly()
    {
        // Cross-process stability (no salted hashes) is checked by the worker's multi-process twin test.
        var t = new LoraTarget("model.layers.0.self_attn.q_proj", "w", "a", "b", 64, 64, 4, 2);
        var (a, b) = LoraInit.Initialize(t, 7);
        Assert.All(b, x => Assert.Equal(0f, x));
        Assert.All(a, x => Assert.InRange(x, -1f / 8, 1f / 8));
        var again = LoraInit.Initialize(t with { }, 7).A;
        Assert.Equal(a, again);
        Assert.NotEqual(a, LoraInit.Initialize(t, 8).A);
    }

    private static float[] Logits(string path, long[] ids, long[] mask, List<(string Name, float[] Data, long[] Shape)> extra)
    {
        using var s = new InferenceSession(path);
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue>
        {
            OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]),
            OrtValue.CreateTensorValueFromMemory(mask, [1, mask.Length]),
        };
        foreach (var (n, d, sh) in extra)
        {
            names.Add(n);
            values.Add(OrtValue.CreateTensorValueFromMemory(d, sh));
        }
        using var r = s.Run(new RunOptions(), names, values, ["logits"]);
        return r[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
