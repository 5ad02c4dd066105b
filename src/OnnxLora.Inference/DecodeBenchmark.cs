// Decode throughput on GenAI CPU for one model in three forms: base, merged (adapter folded into W),
// and the adapter-ready model with an .onnx_adapter hot-swapped in (plus the ready model without one).
// Greedy, fixed token count (EOS suppressed); the first run of each is a warm-up and not timed.
using System.Diagnostics;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Inference;

public sealed record DecodeRate(string Name, int Tokens, double Seconds)
{
    public double TokensPerSecond => Tokens / Seconds;
}

public static class DecodeBenchmark
{
    public static IReadOnlyList<DecodeRate> Run(string baseDir, string adapterDir, string workDir, int promptTokens, int newTokens,
        int repeats, IProgress<string>? progress = null)
    {
        var adapter = PeftAdapter.Load(adapterDir);
        var merged = Path.Combine(workDir, "merged");
        var ready = Path.Combine(workDir, "adapter-ready");
        var adapterFile = Path.Combine(workDir, "adapter" + OnnxAdapterWriter.Extension);
        LoraFold.Merge(baseDir, adapter, merged, adapterSource: adapterDir);
        AdapterReadyModel.Build(baseDir, adapter.Settings, ready);
        AdapterExport.WriteOnnxAdapter(adapter, adapterFile);
        progress?.Report($"prepared merged and adapter-ready models in {workDir}");

        var prompt = Enumerable.Range(0, promptTokens).Select(i => 1 + (i * 7 % 97)).ToArray();
        var o = new GenerationOptions { MaxNewTokens = newTokens, MinNewTokens = newTokens };
        var rates = new List<DecodeRate>
        {
            Measure("base", baseDir, null, null, prompt, o, repeats),
            Measure("merged", merged, null, null, prompt, o, repeats),
            Measure("base+adapter (hot-swap)", ready, adapterFile, "lora", prompt, o, repeats),
            Measure("adapter-ready, no adapter", ready, null, null, prompt, o, repeats),
        };
        return rates;
    }

    public static DecodeRate Measure(string name, string modelDir, string? adapterFile, string? adapterName, int[] prompt,
        GenerationOptions o, int repeats)
    {
        using var gen = new GenAiGenerator(modelDir);
        if (adapterFile is not null)
        {
            gen.LoadAdapter(adapterName!, adapterFile);
            o = o with { Adapter = adapterName };
        }
        _ = gen.GenerateTokens(prompt, o).Count(); // warm-up
        int tokens = 0;
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < repeats; r++)
        {
            tokens += gen.GenerateTokens(prompt, o).Count();
        }
        return new DecodeRate(name, tokens, sw.Elapsed.TotalSeconds);
    }
}
