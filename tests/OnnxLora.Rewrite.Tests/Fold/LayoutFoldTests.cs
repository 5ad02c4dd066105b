// Fold, unfold and the base fingerprint on every layout one checkpoint can come in: our import, the builder's
// packed qkv_proj, torch.onnx's folded [in,out] weights and its unfolded HF [out,in] weights behind a
// Transpose. The same adapter folds into each exactly (unfold gives W back), and the fingerprint is the same
// for all of them, so an adapter moves between them. A weight other nodes also read is folded into a copy.
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Tests.Fold;

public sealed class LayoutFoldTests(ImportedFixture fx) : IClassFixture<ImportedFixture>
{
    /// <summary>fp32 fold then unfold: two roundings of values |W| ≲ 1 plus |Δ| ≲ 1.</summary>
    private const double Fp32RoundTripTolerance = 1e-6;

    private static string TorchExport(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx", name);

    [Fact]
    public void BaseFingerprintIsTheSameForEveryLayoutOfOneCheckpoint()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var builder = BuilderLayout.Write(Fixture.Base, fx.NewPath("builder"), new BuilderOptions());
        var hashes = new[] { fx.BaseDir, builder, TorchExport("tiny-llama"), TorchExport("tiny-llama-unfolded") }.Select(dir =>
        {
            var g = Models.GenAiFolder.Open(dir).LoadDecoder().Graph;
            return BaseHash.Compute(g, AdapterTargets.Resolve(g, adapter, dir).Select(t => t.Layer));
        }).ToList();
        Assert.Single(hashes.Distinct());
        var fp16 = BuilderLayout.Write(Fixture.Base, fx.NewPath("builder16"), new BuilderOptions { Precision = ElementType.Float16 });
        var g16 = Models.GenAiFolder.Open(fp16).LoadDecoder().Graph;
        Assert.NotEqual(hashes[0], BaseHash.Compute(g16, AdapterTargets.Resolve(g16, adapter, fp16).Select(t => t.Layer))); // another dtype, another base
    }

    [Theory]
    [InlineData("builder", "model.layers.0.attn.qkv_proj.MatMul.weight")]
    [InlineData("tiny-llama-unfolded", "model.layers.0.self_attn.v_proj.weight")]
    public void FoldThenUnfoldRestoresPackedAndTransposedWeights(string kind, string weight)
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var src = kind == "builder" ? BuilderLayout.Write(Fixture.Base, fx.NewPath("builder"), new BuilderOptions()) : TorchExport(kind);
        var merged = fx.NewPath("merged");
        var restored = fx.NewPath("restored");
        LoraFold.Merge(src, adapter, merged);
        LoraFold.Merge(merged, adapter, restored, unmerge: true);
        float[] Read(string dir) => Models.GenAiFolder.Open(dir).LoadDecoder().Graph.Initializers[weight].ToFloats();
        var before = Read(src);
        Assert.True(MaxAbs(before, Read(merged)) > 1e-3, "the merge changed nothing");
        Assert.True(MaxAbs(before, Read(restored)) <= Fp32RoundTripTolerance, $"unfold error {MaxAbs(before, Read(restored))}");
    }

    [Fact]
    public void PackedFoldAddsEachDeltaToItsOwnColumns()
    {
        // Only v_proj targeted: q and k columns of the packed weight stay bit-identical.
        var src = PeftAdapter.Load(fx.AdapterDir);
        var onlyV = new PeftAdapter
        {
            Settings = src.Settings,
            Tensors = src.Tensors.Where(kv => kv.Key.Contains("layers.0.self_attn.v_proj", StringComparison.Ordinal)).ToDictionary(),
        };
        var builder = BuilderLayout.Write(Fixture.Base, fx.NewPath("builder"), new BuilderOptions());
        var merged = fx.NewPath("merged-v");
        LoraFold.Merge(builder, onlyV, merged);
        const string packed = "model.layers.0.attn.qkv_proj.MatMul.weight"; // (64, 64+32+32)
        var before = Models.GenAiFolder.Open(builder).LoadDecoder().Graph.Initializers[packed].ToFloats();
        var after = Models.GenAiFolder.Open(merged).LoadDecoder().Graph.Initializers[packed].ToFloats();
        for (int i = 0; i < 64; i++)
        {
            Assert.Equal(before.AsSpan(i * 128, 96).ToArray(), after.AsSpan(i * 128, 96).ToArray());
        }
        Assert.True(MaxAbs(before, after) > 1e-3, "v's columns did not change");
    }

    [Fact]
    public void WeightOtherNodesAlsoReadIsFoldedIntoACopy()
    {
        // q_proj and k_proj read one deduplicated initializer; folding q must leave k's weight as it was.
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 1, 2, 4));
        g.AddInitializer(Initializer.FromFloats("w", [.. Enumerable.Range(0, 16).Select(i => i / 16f)], 4, 4));
        g.AddNode(new Node("MatMul", "/model/layers.0/self_attn/q_proj/MatMul", ["x", "w"], ["q"]));
        g.AddNode(new Node("MatMul", "/model/layers.0/self_attn/k_proj/MatMul", ["x", "w"], ["k"]));
        var adapter = new PeftAdapter
        {
            Settings = new LoraSettings { Rank = 1, Alpha = 1 },
            Tensors = new Dictionary<string, (float[], long[])>
            {
                [Peft.A("model.layers.0.self_attn.q_proj")] = ([1, 1, 1, 1], [1, 4]),
                [Peft.B("model.layers.0.self_attn.q_proj")] = ([1, 1, 1, 1], [4, 1]),
            },
        };
        LoraFold.Fold(g, adapter, AdapterTargets.Resolve(g, adapter, "test"), unmerge: false, "test");
        var q = g.Nodes.Single(n => n.Name.Contains("q_proj", StringComparison.Ordinal));
        var k = g.Nodes.Single(n => n.Name.Contains("k_proj", StringComparison.Ordinal));
        Assert.Equal("w", k.Input(1));
        Assert.NotEqual("w", q.Input(1));
        var copy = ToFloats(g.Initializers[q.Input(1)]);
        Assert.All(copy.Zip(g.Initializers["w"].ToFloats()), p => Assert.Equal(p.Second + 1f, p.First, 6));
    }

    private static float[] ToFloats(Initializer i)
    {
        using var s = new MemoryStream();
        var path = Path.Combine(Path.GetTempPath(), "onnxlora-test-" + Guid.NewGuid().ToString("N")[..8] + ".onnx");
        var m = new Model(new Graph());
        m.Graph.AddInitializer(i);
        ModelWriter.Save(m, path, new ExternalDataOptions { DataFileName = Path.GetFileName(path) + ".data" });
        try
        {
            return ModelReader.Load(path).Graph.Initializers[i.Name].ToFloats();
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".data");
        }
    }

    private static double MaxAbs(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
}
