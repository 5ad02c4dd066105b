// Decode throughput on GenAI CPU for one model in three forms: base, merged (adapter folded into W),
// and the adapter-ready model with an .onnx_adapter hot-swapped in (plus the ready model without one);
// optionally a fourth, the adapter merged into int4 MatMulNBits weights.
// Greedy, fixed token count (EOS suppressed). All four stay loaded and are timed round-robin, one run
// each per round after an untimed warm-up; the median run is reported, so a noisy neighbour on a
// shared CPU hits every form alike instead of whichever happened to run during the noise.
using System.Diagnostics;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Inference;

/// <summary>The median run: <paramref name="Tokens"/> generated in <paramref name="Seconds"/>, over <paramref name="Runs"/> runs; the fastest took <paramref name="BestSeconds"/>.</summary>
public sealed record DecodeRate(string Name, int Tokens, double Seconds, int Runs, double BestSeconds)
{
    /// <summary>Tokens/s of the fastest run: the least disturbed by other load on a shared CPU.</summary>
    public double BestTokensPerSecond => Tokens / BestSeconds;

    public double TokensPerSecond => Tokens / Seconds;
}

public static class DecodeBenchmark
{
    /// <param name="int4">also time the adapter merged into int4 MatMulNBits weights (`merge --quantize int4` with these options).</param>
    public static IReadOnlyList<DecodeRate> Run(string baseDir, string adapterDir, string workDir, int promptTokens, int newTokens,
        int repeats, IProgress<string>? progress = null, RuntimeOptions? runtime = null, Onnx.Quantization.Int4QuantizeOptions? int4 = null)
    {
        var adapter = PeftAdapter.Load(adapterDir);
        var merged = Path.Combine(workDir, "merged");
        var ready = Path.Combine(workDir, "adapter-ready");
        var adapterFile = Path.Combine(workDir, "adapter" + OnnxAdapterWriter.Extension);
        LoraFold.Merge(baseDir, adapter, merged, adapterSource: adapterDir);
        AdapterReadyModel.Build(baseDir, adapter.Settings, ready);
        AdapterExport.WriteOnnxAdapter(adapter, baseDir, adapterFile, adapterDir);
        var mergedInt4 = Path.Combine(workDir, "merged-int4");
        if (int4 is not null)
        {
            Int4Merge.Run(baseDir, adapter, mergedInt4, int4, adapterDir);
        }
        progress?.Report($"prepared merged{(int4 is null ? "" : ", merged int4")} and adapter-ready models in {workDir}");

        var prompt = Enumerable.Range(0, promptTokens).Select(i => 1 + (i * 7 % 97)).ToArray();
        var o = new GenerationOptions { MaxNewTokens = newTokens, MinNewTokens = newTokens };
        using var baseGen = new GenAiGenerator(baseDir, runtime);
        using var mergedGen = new GenAiGenerator(merged, runtime);
        using var readyGen = new GenAiGenerator(ready, runtime);
        using var int4Gen = int4 is null ? null : new GenAiGenerator(mergedInt4, runtime);
        readyGen.LoadAdapter("lora", adapterFile);
        var forms = new List<(string Name, GenAiGenerator Gen, GenerationOptions O)>
        {
            ("base", baseGen, o),
            ("merged", mergedGen, o),
            ("base+adapter (hot-swap)", readyGen, o with { Adapter = "lora" }),
            ("adapter-ready, no adapter", readyGen, o),
        };
        if (int4Gen is not null)
        {
            forms.Add(("merged int4", int4Gen, o));
        }
        return Measure(forms, prompt, repeats);
    }

    /// <summary>Warm-up, then <paramref name="repeats"/> rounds of one timed run per form; the median per form.</summary>
    public static IReadOnlyList<DecodeRate> Measure(IReadOnlyList<(string Name, GenAiGenerator Gen, GenerationOptions O)> forms,
        int[] prompt, int repeats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        var tokens = new int[forms.Count];
        var seconds = forms.Select(_ => new List<double>()).ToArray();
        for (int f = 0; f < forms.Count; f++)
        {
            tokens[f] = forms[f].Gen.GenerateTokens(prompt, forms[f].O).Count(); // warm-up
        }
        for (int r = 0; r < repeats; r++)
        {
            for (int f = 0; f < forms.Count; f++)
            {
                var sw = Stopwatch.StartNew();
                tokens[f] = forms[f].Gen.GenerateTokens(prompt, forms[f].O).Count();
                seconds[f].Add(sw.Elapsed.TotalSeconds);
            }
        }
        return forms.Select((x, f) => new DecodeRate(x.Name, tokens[f], Median(seconds[f]), repeats, seconds[f].Min())).ToList();
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        int n = xs.Count;
        return n % 2 == 1 ? xs[n / 2] : (xs[(n / 2) - 1] + xs[n / 2]) / 2;
    }
}
