// Fold/unfold against the PEFT fixture: merged logits equal merge_and_unload()'s, unfold restores W,
// and every bad input fails with one clear message and leaves no output folder behind.
using OnnxLora.Models;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Parity;

namespace OnnxLora.Rewrite.Tests.Fold;

public sealed class LoraFoldTests(ImportedFixture fx) : IClassFixture<ImportedFixture>
{
    /// <summary>fp32 logits of the merged model against PEFT's merged model.</summary>
    private const double LogitsTolerance = 1e-4;

    /// <summary>fp32 fold then unfold: two roundings of values |W| ≲ 1 plus |Δ| ≲ 1.</summary>
    private const double Fp32RoundTripTolerance = 1e-6;

    private const string SomeWeight = "model.layers.0.attn.q_proj.MatMul.weight";

    [Fact]
    public void MergedLogitsMatchPeftMergeAndUnload()
    {
        var outDir = fx.NewPath("merged");
        LoraFold.Merge(fx.BaseDir, PeftAdapter.Load(fx.AdapterDir), outDir);
        Assert.True(File.Exists(Path.Combine(outDir, "genai_config.json")));
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));
        var result = ParityRunner.Run(new ParityOptions
        {
            Model = outDir,
            Batch = Path.Combine(Fixture.TinyLlama, "reference.safetensors"),
            ReferenceKeys = new Dictionary<string, string> { ["base.logits"] = "merged.logits" },
        });
        var c = Assert.Single(result.Comparisons, x => x.Reference == "merged.logits");
        Assert.True(c.MaxAbs <= LogitsTolerance, $"merged logits max abs error {c.MaxAbs}");
    }

    [Fact]
    public void FoldThenUnfoldRestoresWeight()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var merged = fx.NewPath("merged");
        var restored = fx.NewPath("restored");
        LoraFold.Merge(fx.BaseDir, adapter, merged);
        LoraFold.Merge(merged, adapter, restored, unmerge: true);
        var before = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph.Initializers[SomeWeight].ToFloats();
        var mid = ModelReader.Load(Path.Combine(merged, "model.onnx")).Graph.Initializers[SomeWeight].ToFloats();
        var after = ModelReader.Load(Path.Combine(restored, "model.onnx")).Graph.Initializers[SomeWeight].ToFloats();
        Assert.True(MaxAbs(before, mid) > 1e-3, "the merge changed nothing");
        Assert.True(MaxAbs(before, after) <= Fp32RoundTripTolerance, $"unfold error {MaxAbs(before, after)}");
    }

    [Fact]
    public void DeltaIsScaledTransposeOfBA()
    {
        float[] a = [1, 2, 3, 4, 5, 6]; // (r=2,in=3)
        float[] b = [1, 0, 0, 1];       // (out=2,r=2)
        var d = new LoraDelta(a, b, 2, 3, 2, 0.5f).Compute(); // (in=3,out=2) = 0.5·Aᵀ
        Assert.Equal([0.5f, 2f, 1f, 2.5f, 1.5f, 3f], d);
    }

    [Fact]
    public void MissingAdapterConfigIsRejected()
    {
        var dir = fx.NewPath("no-config");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(fx.AdapterDir, PeftAdapter.WeightsFile), Path.Combine(dir, PeftAdapter.WeightsFile));
        var e = Assert.Throws<ModelFormatException>(() => PeftAdapter.Load(dir));
        Assert.Contains("adapter_config.json", e.Message);
    }

    [Fact]
    public void ShapeMismatchIsRejectedWithoutOutput()
    {
        var a = Mutate(PeftAdapter.Load(fx.AdapterDir), t => t.Key.EndsWith("layers.0.self_attn.q_proj.lora_A.weight", StringComparison.Ordinal)
            ? (new float[t.Value.Data.Length / 2], [t.Value.Shape[0], t.Value.Shape[1] / 2]) : t.Value);
        AssertRejected(a, "q_proj.lora_A.weight");
    }

    [Fact]
    public void UnknownTargetIsRejectedWithoutOutput()
    {
        var src = PeftAdapter.Load(fx.AdapterDir);
        var tensors = new Dictionary<string, (float[], long[])>(src.Tensors)
        {
            ["base_model.model.model.layers.0.self_attn.rotary.lora_A.weight"] = (new float[4 * 64], [4, 64]),
            ["base_model.model.model.layers.0.self_attn.rotary.lora_B.weight"] = (new float[64 * 4], [64, 4]),
        };
        AssertRejected(new PeftAdapter { Settings = src.Settings, Tensors = tensors }, "self_attn.rotary");
    }

    [Fact]
    public void NonFiniteMergeIsRejectedWithoutOutput()
    {
        var a = Mutate(PeftAdapter.Load(fx.AdapterDir), t => t.Key.Contains("layers.1.mlp.up_proj.lora_", StringComparison.Ordinal)
            ? (Enumerable.Repeat(1e30f, t.Value.Data.Length).ToArray(), t.Value.Shape) : t.Value);
        var e = AssertRejected<RewriteException>(a);
        Assert.Contains("non-finite value in merged weight 'model.layers.1.mlp.up_proj.MatMul.weight'", e.Message);
    }

    [Fact]
    public void AdapterFromAnotherBaseIsRejectedWithoutOutput()
    {
        var src = PeftAdapter.Load(fx.AdapterDir);
        var a = new PeftAdapter
        {
            Settings = src.Settings,
            Tensors = src.Tensors,
            Metadata = new Dictionary<string, string> { [BaseHash.HashKey] = new string('0', 64) },
        };
        AssertRejected(a, "adapter was trained on another base");
    }

    [Fact]
    public void AdapterWithMatchingBaseHashMerges()
    {
        var src = PeftAdapter.Load(fx.AdapterDir);
        var g = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph;
        var meta = BaseHash.Metadata(g, AdapterTargets.Resolve(g, src, "fixture").Select(t => t.Layer));
        var dir = fx.NewPath("hashed");
        PeftAdapter.Save(dir, src.Settings, src.Tensors.Select(kv => (kv.Key, kv.Value.Data, kv.Value.Shape)), meta);
        var loaded = PeftAdapter.Load(dir);
        Assert.Equal(meta[BaseHash.HashKey], loaded.Metadata[BaseHash.HashKey]);
        var outDir = fx.NewPath("merged-hashed");
        LoraFold.Merge(fx.BaseDir, loaded, outDir);
        Assert.True(File.Exists(Path.Combine(outDir, "model.onnx")));
    }

    private void AssertRejected(PeftAdapter a, string expected)
    {
        var e = AssertRejected<ModelFormatException>(a);
        Assert.Contains(expected, e.Message);
    }

    private T AssertRejected<T>(PeftAdapter a) where T : Exception
    {
        var outDir = fx.NewPath("rejected");
        var e = Assert.Throws<T>(() => LoraFold.Merge(fx.BaseDir, a, outDir));
        Assert.False(Directory.Exists(outDir));
        var parent = Path.GetDirectoryName(outDir)!;
        Assert.Empty(Directory.EnumerateDirectories(parent, "." + Path.GetFileName(outDir) + "*"));
        return e;
    }

    private static PeftAdapter Mutate(PeftAdapter src,
        Func<KeyValuePair<string, (float[] Data, long[] Shape)>, (float[] Data, long[] Shape)> f) => new()
    {
        Settings = src.Settings,
        Tensors = src.Tensors.ToDictionary(kv => kv.Key, kv => f(kv)),
    };

    private static double MaxAbs(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs((double)p - q)).Max();
}
