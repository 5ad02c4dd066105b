// merge --quantize int4 (Int4Merge) on the imported tiny-llama fixture: the int4 tensors equal the independent
// Python builder-quantizer's bytes, ORT runs the result to the PyTorch logits on the dequantized weights, the fold
// equals `merge` followed by quantization, folding onto an int4 base requantizes within one step, and every bad
// input is refused in one line with nothing written.
using OnnxLora.Onnx;
using OnnxLora.Models;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Testing;
using Xunit.Abstractions;

namespace OnnxLora.Rewrite.Tests.Fold;

public sealed class Int4MergeTests(ImportedFixture fx, ITestOutputHelper output) : IClassFixture<ImportedFixture>
{
    /// <summary>fp32 logits of the int4 model in ORT (accuracy_level 0) vs PyTorch on the dequantized weights.</summary>
    private const double LogitsTolerance = 1e-4;

    /// <summary>Relative slack on "within one quantization step" (float rounding of v·(1/s)).</summary>
    private const float StepSlack = 1e-5f;

    private static readonly Int4QuantizeOptions Exact = new() { AccuracyLevel = 0 };

    private static string Int4Data => Path.Combine(TestPaths.RepoRoot, "tests", "data", "int4");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void QuantizedFixtureHoldsTheIndependentReferenceBytes(bool symmetric)
    {
        var outDir = fx.NewPath("q");
        var report = Int4Merge.Run(fx.BaseDir, null, outDir, new Int4QuantizeOptions { Symmetric = symmetric });
        Assert.Equal(15, report.Quantized.Count);
        var g = ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph;
        using var reference = SafetensorsFile.Open(Path.Combine(Int4Data, $"quantized_{(symmetric ? "sym" : "asym")}.safetensors"));
        foreach (var weight in report.Quantized)
        {
            foreach (var name in new[] { MatMulNBits.CodesName(weight), MatMulNBits.ScalesName(weight), MatMulNBits.ZeroPointsName(weight) })
            {
                Assert.Equal(reference.Contains(name), g.Initializers.ContainsKey(name));
                if (reference.Contains(name))
                {
                    Assert.True(reference.GetBytes(name).SequenceEqual(g.Initializers[name].Data.Span), $"{name} differs from the reference");
                }
            }
            Assert.False(g.Initializers.ContainsKey(weight));
        }
        const string q = "model.layers.0.attn.q_proj.MatMul.weight";
        var matMul = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph.Nodes.Single(n => n.Input(1) == q);
        var node = g.Nodes.Single(n => n.Input(1) == MatMulNBits.CodesName(q));
        Assert.True(MatMulNBits.Is(node));
        Assert.Equal(matMul.Name + "_Q4", node.Name);
        Assert.Equal(matMul.Outputs, node.Outputs);
        Assert.Equal(4, node.GetInt("accuracy_level", 0));
        Assert.Contains(GenAiNames.Embedding, g.Initializers.Keys); // embeddings stay float, as in the builder
        Assert.DoesNotContain(g.Nodes, n => n.OpType == "MatMul");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Float16ModelQuantizesToTheFp16ReferenceBytesAndRuns(bool symmetric)
    {
        var fp16 = fx.NewPath("fp16");
        Models.Import.HfImporter.Import(Path.Combine(Fixture.TinyLlama, "base"), fp16, ElementType.Float16);
        var outDir = fx.NewPath("q-fp16");
        var report = Int4Merge.Run(fp16, null, outDir, new Int4QuantizeOptions { Symmetric = symmetric });
        var g = ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph;
        using var reference = SafetensorsFile.Open(Path.Combine(Int4Data, $"quantized_{(symmetric ? "sym" : "asym")}_fp16.safetensors"));
        foreach (var weight in report.Quantized)
        {
            Assert.Equal(ElementType.Float16, g.Initializers[MatMulNBits.ScalesName(weight)].Type);
            foreach (var name in new[] { MatMulNBits.CodesName(weight), MatMulNBits.ScalesName(weight), MatMulNBits.ZeroPointsName(weight) }
                .Where(reference.Contains))
            {
                Assert.True(reference.GetBytes(name).SequenceEqual(g.Initializers[name].Data.Span), $"{name} differs from the fp16 reference");
            }
        }
        using var batch = SafetensorsFile.Open(Fixture.Reference);
        var ids = batch.ReadInt64("input_ids");
        Assert.All(GenAiLogits.Run(outDir, ids, batch.ReadInt64("attention_mask"), 2, ids.Length / 2), x => Assert.True(float.IsFinite(x)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Int4ModelLogitsMatchPyTorchOnTheDequantizedWeights(bool symmetric)
    {
        var outDir = fx.NewPath("q-exact");
        Int4Merge.Run(fx.BaseDir, null, outDir, Exact with { Symmetric = symmetric });
        using var reference = SafetensorsFile.Open(Path.Combine(Int4Data, $"reference_{(symmetric ? "sym" : "asym")}.safetensors"));
        var ids = reference.ReadInt64("input_ids");
        var logits = GenAiLogits.Run(outDir, ids, reference.ReadInt64("attention_mask"), 2, ids.Length / 2);
        double err = GenAiLogits.MaxAbs(logits, reference.ReadAsFloat32("base.logits"));
        output.WriteLine($"{(symmetric ? "sym" : "asym")}: int4 logits (ORT MatMulNBits, accuracy_level 0) vs PyTorch on the dequantized weights: max abs {err:G3}");
        Assert.True(err <= LogitsTolerance, $"int4 logits vs PyTorch on dequantized weights: max abs {err}");
    }

    [Fact]
    public void FoldedInt4EqualsQuantizingTheFloatMerge()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var merged = fx.NewPath("merged");
        LoraFold.Merge(fx.BaseDir, adapter, merged);
        var viaFloat = fx.NewPath("merged-then-q");
        Int4Merge.Run(merged, null, viaFloat, Exact);
        var direct = fx.NewPath("merge-q");
        var report = Int4Merge.Run(fx.BaseDir, adapter, direct, Exact);
        Assert.Equal(14, report.Targets.Count);
        var a = ModelReader.Load(Path.Combine(viaFloat, "model.onnx")).Graph;
        var b = ModelReader.Load(Path.Combine(direct, "model.onnx")).Graph;
        Assert.Equal(a.Initializers.Keys, b.Initializers.Keys);
        foreach (var (name, init) in a.Initializers)
        {
            Assert.True(init.Data.Span.SequenceEqual(b.Initializers[name].Data.Span), $"{name} differs");
        }
    }

    [Fact]
    public void FoldOntoAnInt4BaseRequantizesWithinOneStepAndKeepsUntouchedWeights()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var int4Base = fx.NewPath("int4-base");
        Int4Merge.Run(fx.BaseDir, null, int4Base, Exact);
        var outDir = fx.NewPath("int4-merged");
        var report = Int4Merge.Run(int4Base, adapter, outDir, Exact);
        Assert.Equal(14, report.Requantized.Count);
        Assert.Equal(["lm_head.MatMul.weight"], report.KeptInt4);
        Assert.Empty(report.Quantized);
        Assert.True(report.RequantizationMaxAbsError > 0);
        output.WriteLine($"requantization onto the int4 base: max |W' - (dequant(W) + dW)| {report.RequantizationMaxAbsError:G3}, largest step {report.RequantizationMaxStep:G3}");
        Assert.True(report.RequantizationMaxAbsError <= report.RequantizationMaxStep * (1 + StepSlack),
            $"requantization error {report.RequantizationMaxAbsError} exceeds one step {report.RequantizationMaxStep}");

        var before = ModelReader.Load(Path.Combine(int4Base, "model.onnx")).Graph;
        var after = ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph;
        foreach (var name in new[] { "lm_head.MatMul.weight_Q4", "lm_head.MatMul.weight_scales" })
        {
            Assert.True(before.Initializers[name].Data.Span.SequenceEqual(after.Initializers[name].Data.Span), $"{name} changed");
        }
        // Each requantized weight is within one of its own steps of dequant(base) + Δ.
        var t = AdapterTargets.Resolve(before, adapter, "fixture").Single(x => x.Weight == "model.layers.1.mlp.down_proj.MatMul.weight");
        var w0 = LinearWeight.Find(before, "base")[t.Weight];
        var w1 = LinearWeight.Find(after, "merged")[t.Weight];
        var expected = new float[w0.In * w0.Out];
        w0.ReadColumns(0, w0.Out, expected);
        var delta = new LoraDelta(adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data, t.Rank, (int)t.In, (int)t.Out, (float)t.Scaling).Compute();
        var actual = new float[expected.Length];
        w1.ReadColumns(0, w1.Out, actual);
        var scales = w1.Int4!.ScalesAsFloat();
        for (int i = 0; i < w0.In; i++)
        {
            for (int n = 0; n < w0.Out; n++)
            {
                float step = MathF.Abs(scales[(n * w1.Int4.Layout.BlocksPerColumn) + (i / 32)]);
                float want = expected[(i * w0.Out) + n] + delta[(i * w0.Out) + n];
                Assert.True(MathF.Abs(actual[(i * w0.Out) + n] - want) <= step * (1 + StepSlack), $"[{i},{n}]");
            }
        }
    }

    [Fact]
    public void AdapterHashedOnTheFloatBaseIsRefusedOnItsInt4Base()
    {
        var src = PeftAdapter.Load(fx.AdapterDir);
        var g = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph;
        var meta = BaseHash.Metadata(g, AdapterTargets.Resolve(g, src, "fixture").Select(t => t.Layer));
        var hashed = new PeftAdapter { Settings = src.Settings, Tensors = src.Tensors, Metadata = meta };
        var int4Base = fx.NewPath("int4-base-hash");
        Int4Merge.Run(fx.BaseDir, null, int4Base, Exact);

        Int4Merge.Run(fx.BaseDir, hashed, fx.NewPath("ok"), Exact); // its own base: accepted
        var e = AssertRefused<ModelFormatException>(o => Int4Merge.Run(int4Base, hashed, o, Exact));
        Assert.Contains("adapter was trained on another base", e.Message);

        var g4 = ModelReader.Load(Path.Combine(int4Base, "model.onnx")).Graph;
        var meta4 = BaseHash.Metadata(g4, AdapterTargets.Resolve(g4, src, "fixture").Select(t => t.Layer));
        Assert.NotEqual(meta[BaseHash.HashKey], meta4[BaseHash.HashKey]);
        Int4Merge.Run(int4Base, new PeftAdapter { Settings = src.Settings, Tensors = src.Tensors, Metadata = meta4 }, fx.NewPath("ok4"), Exact);
    }

    [Fact]
    public void BlockSizeThatDoesNotDivideKIsRefusedUnlessPaddingIsAsked()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var e = AssertRefused<ModelFormatException>(o => Int4Merge.Run(fx.BaseDir, adapter, o, new Int4QuantizeOptions { BlockSize = 64 }));
        Assert.Contains("block size 64 does not divide K=160 of weight 'model.layers.0.mlp.down_proj.MatMul.weight'", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        var outDir = fx.NewPath("padded");
        Int4Merge.Run(fx.BaseDir, adapter, outDir, new Int4QuantizeOptions { BlockSize = 64, PadPartialBlocks = true, AccuracyLevel = 0 });
        var w = LinearWeight.Find(ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph, "padded")["model.layers.0.mlp.down_proj.MatMul.weight"];
        Assert.Equal([64L, 3L, 32L], w.Int4!.Codes.Dims); // K=160 → 3 blocks of 64, the last one padded
    }

    [Fact]
    public void PrepackedInt4BaseIsRefusedWithoutOutput()
    {
        var int4Base = fx.NewPath("int4-prepacked");
        Int4Merge.Run(fx.BaseDir, null, int4Base, Exact);
        var path = Path.Combine(int4Base, "model.onnx");
        var m = ModelReader.Load(path);
        m.Graph.Nodes.First(MatMulNBits.Is).SetAttribute("weight_prepacked", 1L);
        var edited = fx.NewPath("int4-prepacked-edited");
        Directory.CreateDirectory(edited);
        foreach (var f in Directory.EnumerateFiles(int4Base).Where(f => !Path.GetFileName(f).StartsWith("model.onnx", StringComparison.Ordinal)))
        {
            File.Copy(f, Path.Combine(edited, Path.GetFileName(f)));
        }
        ModelWriter.Save(m, Path.Combine(edited, "model.onnx"));
        var e = AssertRefused<BadInputException>(o => Int4Merge.Run(edited, PeftAdapter.Load(fx.AdapterDir), o, Exact));
        Assert.Contains("weight_prepacked=1", e.Message);
    }

    [Fact]
    public void BFloat16ModelIsRefusedWithoutOutput()
    {
        var bf16 = fx.NewPath("bf16");
        Models.Import.HfImporter.Import(Path.Combine(Fixture.TinyLlama, "base"), bf16, ElementType.BFloat16);
        var e = AssertRefused<ModelFormatException>(o => Int4Merge.Run(bf16, null, o, Exact));
        Assert.Contains("is bfloat16; int4 MatMulNBits takes float32 or float16 models", e.Message);
    }

    [Fact]
    public void EmbeddingIsStoredAsGatherBlockQuantizedWhenAskedEachRowWithinOneStep()
    {
        var outDir = fx.NewPath("q-embedding");
        Int4Merge.Run(fx.BaseDir, PeftAdapter.Load(fx.AdapterDir), outDir, Exact with { QuantizeEmbedding = true });
        var g = ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph;
        Assert.DoesNotContain(GenAiNames.Embedding, g.Initializers.Keys);
        var gather = g.Nodes.Single(n => n.OpType == GatherBlockQuantized.OpType);
        Assert.Equal([MatMulNBits.CodesName(GenAiNames.Embedding), GenAiNames.InputIds, MatMulNBits.ScalesName(GenAiNames.Embedding)], gather.Inputs);
        var codes = g.Initializers[MatMulNBits.CodesName(GenAiNames.Embedding)];
        Assert.Equal([512L, 32L], codes.Dims); // (vocab, hidden/2)

        var e = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph.Initializers[GenAiNames.Embedding].ToFloats(); // (512,64)
        var layout = new Int4BlockLayout(64, 512, 32, symmetric: true);
        var scales = g.Initializers[MatMulNBits.ScalesName(GenAiNames.Embedding)].ToFloats();
        var d = new float[64 * 512]; // (hidden, vocab)
        Int4Dequantizer.Dequantize(layout, codes.Data.Span, scales, [], 0, 64, 0, 512, d);
        for (int v = 0; v < 512; v++)
        {
            for (int k = 0; k < 64; k++)
            {
                float step = MathF.Abs(scales[(v * 2) + (k / 32)]);
                Assert.True(MathF.Abs(d[(k * 512) + v] - e[(v * 64) + k]) <= step * (1 + StepSlack), $"row {v}, [{k}]");
            }
        }
        using var reference = SafetensorsFile.Open(Fixture.Reference);
        var ids = reference.ReadInt64("input_ids");
        var logits = GenAiLogits.Run(outDir, ids, reference.ReadInt64("attention_mask"), 2, ids.Length / 2);
        Assert.All(logits, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void ExcludedWeightStaysFloatWithTheAdapterFoldedIn()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var merged = fx.NewPath("merged-for-exclude");
        LoraFold.Merge(fx.BaseDir, adapter, merged);
        var outDir = fx.NewPath("exclude");
        const string down = "model.layers.1.mlp.down_proj.MatMul.weight";
        var report = Int4Merge.Run(fx.BaseDir, adapter, outDir, Exact with { Exclude = new HashSet<string> { "/lm_head/MatMul", down } });
        Assert.Equal(["model.layers.1.mlp.down_proj.MatMul.weight", "lm_head.MatMul.weight"], report.KeptFloat);
        var g = ModelReader.Load(Path.Combine(outDir, "model.onnx")).Graph;
        var want = ModelReader.Load(Path.Combine(merged, "model.onnx")).Graph;
        foreach (var name in report.KeptFloat)
        {
            Assert.True(g.Initializers[name].Data.Span.SequenceEqual(want.Initializers[name].Data.Span), $"{name} is not the float merge");
        }
        Assert.Equal(2, g.Nodes.Count(n => n.OpType == "MatMul"));

        var e = AssertRefused<BadInputException>(o => Int4Merge.Run(fx.BaseDir, adapter, o, Exact with { Exclude = new HashSet<string> { "/lm_head/Matmul" } }));
        Assert.Contains("--exclude /lm_head/Matmul: no MatMul weight or node of that name", e.Message);
    }

    [Fact]
    public void NonFiniteFoldIsRefusedWithoutOutput()
    {
        var src = PeftAdapter.Load(fx.AdapterDir);
        var bad = new PeftAdapter
        {
            Settings = src.Settings,
            Tensors = src.Tensors.ToDictionary(kv => kv.Key, kv => kv.Key.Contains("layers.1.mlp.up_proj.lora_", StringComparison.Ordinal)
                ? (Enumerable.Repeat(1e30f, kv.Value.Data.Length).ToArray(), kv.Value.Shape) : kv.Value),
        };
        var e = AssertRefused<RewriteException>(o => Int4Merge.Run(fx.BaseDir, bad, o, Exact));
        Assert.Contains("non-finite value in merged weight 'model.layers.1.mlp.up_proj.MatMul.weight'", e.Message);
    }

    [Fact]
    public void PackedInt4QkvIsFoundAsThreeSlicesFoldedOnEachOwnColumnsAndHashedLikeSeparateWeights()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var builder = BuilderLayout.Write(Fixture.Base, fx.NewPath("builder"), new BuilderOptions());
        var packedBase = fx.NewPath("int4-packed-base");
        var separateBase = fx.NewPath("int4-separate-base");
        Int4Merge.Run(builder, null, packedBase, Exact);
        Int4Merge.Run(fx.BaseDir, null, separateBase, Exact);
        var before = GenAiFolder.Open(packedBase).LoadDecoder().Graph;

        // Discovery: one MatMulNBits, three int4 slices.
        const string packed = "model.layers.0.attn.qkv_proj.MatMul.weight"; // (64, 64+32+32)
        var slices = LinearDiscovery.Find(before).Where(l => l.Weight == packed).ToList();
        Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj"], slices.Select(l => l.Module));
        Assert.All(slices, l => Assert.Equal(WeightLayout.Int4, l.Layout));
        Assert.Equal([0L, 64L, 96L], slices.Select(l => l.Offset));

        // Int4 blocks are per output column, so packed and separate int4 bases are one base; the float base is another.
        var separate = GenAiFolder.Open(separateBase).LoadDecoder().Graph;
        string Hash(Graph g) => BaseHash.Compute(g, AdapterTargets.Resolve(g, adapter, "fixture").Select(t => t.Layer));
        Assert.Equal(Hash(separate), Hash(before));
        Assert.NotEqual(Hash(GenAiFolder.Open(builder).LoadDecoder().Graph), Hash(before));

        // Fold onto the packed int4 base: each slice's Δ lands on its own columns, within one step.
        var outDir = fx.NewPath("int4-packed-merged");
        Int4Merge.Run(packedBase, adapter, outDir, Exact);
        var after = GenAiFolder.Open(outDir).LoadDecoder().Graph;
        var w0 = LinearWeight.Find(before, "base")[packed];
        var w1 = LinearWeight.Find(after, "merged")[packed];
        var want = new float[w0.In * w0.Out];
        w0.ReadColumns(0, w0.Out, want);
        foreach (var t in AdapterTargets.Resolve(before, adapter, "fixture").Where(t => t.Weight == packed))
        {
            var delta = new LoraDelta(adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data, t.Rank, (int)t.In, (int)t.Out, (float)t.Scaling).Compute();
            for (int i = 0; i < t.In; i++)
            {
                for (int o = 0; o < t.Out; o++)
                {
                    want[(i * w0.Out) + (int)t.Layer.Offset + o] += delta[(i * t.Out) + o];
                }
            }
        }
        var actual = new float[want.Length];
        w1.ReadColumns(0, w1.Out, actual);
        var scales = w1.Int4!.ScalesAsFloat();
        for (int i = 0; i < w0.In; i++)
        {
            for (int n = 0; n < w0.Out; n++)
            {
                float step = MathF.Abs(scales[(n * w1.Int4.Layout.BlocksPerColumn) + (i / 32)]);
                Assert.True(MathF.Abs(actual[(i * w0.Out) + n] - want[(i * w0.Out) + n]) <= step * (1 + StepSlack), $"[{i},{n}]");
            }
        }
    }

    [Fact]
    public void PlainMergeOntoAnInt4BaseIsRefusedPointingToQuantize()
    {
        var int4Base = fx.NewPath("int4-base-plain");
        Int4Merge.Run(fx.BaseDir, null, int4Base, Exact);
        var e = AssertRefused<ModelFormatException>(o => LoraFold.Merge(int4Base, PeftAdapter.Load(fx.AdapterDir), o));
        Assert.Contains("is int4 (MatMulNBits); fold onto an int4 base with merge --quantize int4", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private T AssertRefused<T>(Action<string> run) where T : Exception
    {
        var outDir = fx.NewPath("refused");
        var e = Assert.Throws<T>(() => run(outDir));
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(outDir)!, "." + Path.GetFileName(outDir) + "*"));
        return e;
    }
}
