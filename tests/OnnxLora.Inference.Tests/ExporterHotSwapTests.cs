// Hot-swap on exporter layouts: the adapter-ready model of a builder folder (packed qkv_proj: one LoRA branch on the
// packed MatMul, B laid out at each slice's columns; fp32 and fp16, adapter values in the model's dtype) and of a
// torch.onnx export, with the fixture adapter exported as .onnx_adapter, generates the same greedy tokens as the
// merged model. Builder folders run on ORT GenAI (CPU); torch exports on our ORT loop (OrtDecoder), with and without
// a KV cache. EOS is suppressed so every one of the NewTokens positions is compared.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Inference.Tests;

public sealed class ExporterHotSwapTests : IDisposable
{
    private const int NewTokens = 16;

    private static readonly int[] s_prompt = [1, 15, 200, 37, 90, 311, 8];

    private readonly TempDir _dir = new();

    [Theory]
    [InlineData(ElementType.Float)]
    [InlineData(ElementType.Float16)]
    public void HotSwappedAdapterOnPackedBuilderLayoutGeneratesTheMergedModelsTokens(ElementType precision)
    {
        var builder = BuilderLayout.Write(Fixture.Base, _dir["builder"], new BuilderOptions { Precision = precision });
        var (merged, ready, adapterFile) = Prepare(builder);
        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        List<int> expected, plain;
        using (var m = new GenAiGenerator(merged))
        {
            expected = m.GenerateTokens(s_prompt, o).ToList();
        }
        using (var b = new GenAiGenerator(builder))
        {
            plain = b.GenerateTokens(s_prompt, o).ToList();
        }
        using var gen = new GenAiGenerator(ready);
        gen.LoadAdapter("fixture", adapterFile);
        Assert.Equal(expected, gen.GenerateTokens(s_prompt, o with { Adapter = "fixture" }).ToList());
        Assert.Equal(plain, gen.GenerateTokens(s_prompt, o).ToList());
        Assert.NotEqual(plain, expected); // the adapter changes the answer, so the comparison means something
        // The packed qkv_proj keeps one MatMul: the ready model adds one branch to it rather than splitting it.
        var g = Models.GenAiFolder.Open(ready).LoadDecoder().Graph;
        Assert.Contains(g.Inputs, i => i.Name == "base_model.model.model.layers.0.self_attn.q_proj+k_proj+v_proj.lora_B.weight");
        Assert.Equal(precision, Onnx.Ir.Graph.TypeOf(g.Inputs.Single(i => i.Name == "base_model.model.model.layers.0.self_attn.q_proj+k_proj+v_proj.lora_A.weight")).Element);
    }

    [Theory]
    [InlineData("tiny-llama-with-past")]
    [InlineData("tiny-llama")]
    public void HotSwappedAdapterOnTorchExportGeneratesTheMergedModelsTokens(string export)
    {
        var src = Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx", export);
        var (merged, ready, adapterFile) = Prepare(src);
        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        var runtime = new RuntimeOptions();
        List<int> expected, plain;
        using (var m = new OrtDecoder(merged, runtime))
        {
            expected = m.GenerateTokens(s_prompt, o).ToList();
        }
        using (var b = new OrtDecoder(src, runtime))
        {
            plain = b.GenerateTokens(s_prompt, o).ToList();
        }
        using (var swapped = new OrtDecoder(ready, runtime, adapterFile))
        {
            Assert.Equal(expected, swapped.GenerateTokens(s_prompt, o).ToList());
        }
        using (var bare = new OrtDecoder(ready, runtime))
        {
            Assert.Equal(plain, bare.GenerateTokens(s_prompt, o).ToList());
        }
        Assert.NotEqual(plain, expected);
    }

    [Fact]
    public void TorchExportWithKvCacheGeneratesWhatTheNoCacheExportDoes()
    {
        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        var root = Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx");
        using var cached = new OrtDecoder(Path.Combine(root, "tiny-llama-with-past"), new RuntimeOptions());
        using var full = new OrtDecoder(Path.Combine(root, "tiny-llama", "model.onnx"), new RuntimeOptions());
        Assert.Equal(full.GenerateTokens(s_prompt, o).ToList(), cached.GenerateTokens(s_prompt, o).ToList());
    }

    private (string Merged, string Ready, string AdapterFile) Prepare(string model)
    {
        var adapter = PeftAdapter.Load(Fixture.Adapter);
        var merged = _dir["merged-" + Guid.NewGuid().ToString("N")[..6]];
        var ready = _dir["ready-" + Guid.NewGuid().ToString("N")[..6]];
        LoraFold.Merge(model, adapter, merged);
        AdapterReadyModel.Build(model, adapter.Settings, ready);
        var file = Path.Combine(_dir.Path, "fixture-" + Guid.NewGuid().ToString("N")[..6] + OnnxAdapterWriter.Extension);
        AdapterExport.WriteOnnxAdapter(adapter, model, file);
        return (merged, ready, file);
    }

    public void Dispose() => _dir.Dispose();
}
