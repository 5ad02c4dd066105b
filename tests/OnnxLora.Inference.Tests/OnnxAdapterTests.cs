// The adapter-ready model + .onnx_adapter files on ORT (OrtLoraAdapter + RunOptions.AddActiveLoraAdapter)
// and on GenAI (Adapters + SetActiveAdapter): with the fixture adapter they reproduce the merged model,
// without one the base, and two adapters switch on one session. B=1, T=prompt length, V=vocab.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Models;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Inference.Tests;

public sealed class OnnxAdapterTests(InferenceFixture fx) : IClassFixture<InferenceFixture>
{
    /// <summary>fp32 logits: adapter applied at run time versus folded into W.</summary>
    private const double LogitsTolerance = 1e-4;

    private static readonly long[] s_prompt = [1, 15, 200, 37, 90, 311, 8];

    [Fact]
    public void WriterProducesTortFlatBuffer()
    {
        var bytes = OnnxAdapterWriter.Build([new OnnxAdapterWriter.Parameter("a", Onnx.Ir.ElementType.Float, [2], new byte[8])]);
        Assert.Equal("TORT", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
    }

    [Fact]
    public void OrtAdapterOnReadyModelMatchesMergedAndSwitches()
    {
        var (ready, first, second) = Prepare();
        using var readySession = new InferenceSession(Path.Combine(ready, "model.onnx"));
        using var baseSession = new InferenceSession(Path.Combine(fx.BaseDir, "model.onnx"));
        using var mergedSession = new InferenceSession(Path.Combine(fx.MergedDir, "model.onnx"));
        using var a1 = OrtLoraAdapter.Create(first, null);
        using var a2 = OrtLoraAdapter.Create(second, null);

        var merged = Logits(mergedSession, null);
        var withFirst = Logits(readySession, a1);
        var withSecond = Logits(readySession, a2);
        var plain = Logits(readySession, null);
        Assert.True(MaxAbs(merged, withFirst) <= LogitsTolerance, $"adapter vs merged {MaxAbs(merged, withFirst)}");
        Assert.True(MaxAbs(Logits(baseSession, null), plain) <= LogitsTolerance, "ready model without adapter differs from base");
        Assert.True(MaxAbs(withFirst, withSecond) > 1e-2, "two adapters gave the same logits");
        Assert.True(MaxAbs(merged, Logits(readySession, a1)) <= LogitsTolerance, "switching back changed the result");
    }

    [Fact]
    public void GenAiHotSwappedAdapterMatchesMergedModel()
    {
        var (ready, first, second) = Prepare();
        int[] prompt = s_prompt.Select(x => (int)x).ToArray();
        var o = new GenerationOptions { MaxNewTokens = 10 };
        List<int> merged;
        using (var m = new GenAiGenerator(fx.MergedDir))
        {
            merged = m.GenerateTokens(prompt, o).ToList();
        }
        List<int> plainBase;
        using (var b = new GenAiGenerator(fx.BaseDir))
        {
            plainBase = b.GenerateTokens(prompt, o).ToList();
        }
        using var gen = new GenAiGenerator(ready);
        gen.LoadAdapter("first", first);
        gen.LoadAdapter("second", second);
        Assert.Equal(merged, gen.GenerateTokens(prompt, o with { Adapter = "first" }).ToList());
        Assert.Equal(plainBase, gen.GenerateTokens(prompt, o).ToList());
        _ = gen.GenerateTokens(prompt, o with { Adapter = "second" }).ToList();
        Assert.Equal(merged, gen.GenerateTokens(prompt, o with { Adapter = "first" }).ToList());
    }

    private (string Ready, string First, string Second) Prepare()
    {
        var adapter = PeftAdapter.Load(fx.AdapterDir);
        var ready = fx.NewPath("ready");
        AdapterReadyModel.Build(fx.BaseDir, adapter.Settings, ready);
        var first = Path.Combine(ready, "first.onnx_adapter");
        var second = Path.Combine(ready, "second.onnx_adapter");
        AdapterExport.WriteOnnxAdapter(adapter, fx.BaseDir, first);
        var flipped = new PeftAdapter
        {
            Settings = adapter.Settings,
            Tensors = adapter.Tensors.ToDictionary(kv => kv.Key,
                kv => kv.Key.Contains("lora_B", StringComparison.Ordinal) ? (kv.Value.Data.Select(v => -3 * v).ToArray(), kv.Value.Shape) : kv.Value),
        };
        AdapterExport.WriteOnnxAdapter(flipped, fx.BaseDir, second);
        return (ready, first, second);
    }

    // One prefill step of the GenAI graph: input_ids, attention_mask and empty past (1,K,0,d).
    private static float[] Logits(InferenceSession s, OrtLoraAdapter? adapter) =>
        PrefillLogits.Run(s, LlamaConfig.Load(Path.Combine(Fixture.TinyLlama, "base", "config.json")), s_prompt, batch: 1, adapter);

    private static double MaxAbs(float[] x, float[] y) => x.Zip(y, (p, q) => Math.Abs((double)p - q)).Max();
}
