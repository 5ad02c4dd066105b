// int4-table: the int4-vs-fp32 export table for one GenAI base model and PEFT adapter. It merges the adapter into
// fp32 weights (`merge`) and into int4 MatMulNBits (`merge --quantize int4`: builder defaults; accuracy_level 0; and
// with the embedding stored int4 too), folds it onto an int4 base of the same model (quantize, then dequantize, fold,
// requantize) and reports: model file sizes, eval perplexity of each folder's own graph (as GenAI runs it) on a JSONL
// dataset, the extra error of folding onto the int4 base against quantizing the float merge directly (weights and
// logits), with --decode true GenAI CPU decode tokens/s (timed round-robin; needs a quiet CPU), and with --variants true
// the size and perplexity of non-default options (asymmetric, block 16, lm_head kept float, and their combinations).
// It writes nothing outside --work; the models it reads are left as they are.
using System.Globalization;
using OnnxLora.Inference;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Run;

var inv = CultureInfo.InvariantCulture;
Args opts;
try
{
    if (args is ["--help"] or ["-h"])
    {
        Console.WriteLine("usage: int4-table --model <genai-dir> --adapter <peft-dir> --data <jsonl> [--name label] [--work dir]");
        Console.WriteLine("         [--max-examples 200] [--max-seq-len 256] [--decode false] [--tokens 128] [--repeats 5] [--pad-last-block false] [--variants false]");
        return 0;
    }
    opts = Args.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message} (see --help)");
    return 2;
}
string Need(string name) => opts.Get(name, "") is { Length: > 0 } v ? v : throw new ArgumentException($"--{name} is required");
try
{
    var baseDir = Need("model");
    var adapterDir = Need("adapter");
    var data = Need("data");
    var name = opts.Get("name", Path.GetFileName(Path.GetFullPath(baseDir)));
    var work = opts.Get("work", Path.Combine(Path.GetTempPath(), "int4-table-" + Guid.NewGuid().ToString("N")[..8]));
    int maxExamples = int.Parse(opts.Get("max-examples", "200"), inv);
    int maxSeqLen = int.Parse(opts.Get("max-seq-len", "256"), inv);
    bool decode = bool.Parse(opts.Get("decode", "false"));
    int tokens = int.Parse(opts.Get("tokens", "128"), inv);
    int repeats = int.Parse(opts.Get("repeats", "5"), inv);
    bool pad = bool.Parse(opts.Get("pad-last-block", "false"));
    bool variants = bool.Parse(opts.Get("variants", "false"));

    var adapter = PeftAdapter.Load(adapterDir);
    string Dir(string n) => Path.Combine(work, n);
    void Log(string m) => Console.Error.WriteLine($"  [{name}] {m}");

    Log("merging: fp32, int4 (block 32, symmetric, accuracy_level 4), int4 accuracy_level 0, int4 base + fold");
    LoraFold.Merge(baseDir, adapter, Dir("merged-fp32"), adapterSource: adapterDir);
    var int4 = new Int4QuantizeOptions { PadPartialBlocks = pad };
    var exact = int4 with { AccuracyLevel = 0 };
    Int4Merge.Run(baseDir, adapter, Dir("merged-int4"), int4, adapterDir);
    Int4Merge.Run(baseDir, adapter, Dir("merged-int4-acc0"), exact, adapterDir);
    Int4Merge.Run(baseDir, adapter, Dir("merged-int4-emb"), int4 with { QuantizeEmbedding = true }, adapterDir);
    Int4Merge.Run(baseDir, null, Dir("base-int4-acc0"), exact);
    // The adapter was trained on the float base, so its base hash (if any) rightly refuses the int4 copy; this experiment
    // measures the requantization error only, so it folds the same A/B without the hash.
    var unhashed = new PeftAdapter { Settings = adapter.Settings, Tensors = adapter.Tensors };
    var requant = Int4Merge.Run(Dir("base-int4-acc0"), unhashed, Dir("merged-onto-int4-acc0"), exact, adapterDir);

    long Size(string d) => Directory.EnumerateFiles(d, OnnxLora.Models.GenAiFolder.DefaultDecoderFile + "*").Sum(f => new FileInfo(f).Length);
    long fp32Bytes = Size(Dir("merged-fp32")), int4Bytes = Size(Dir("merged-int4")), embBytes = Size(Dir("merged-int4-emb"));

    Log($"eval perplexity on {data} (first {maxExamples} examples, ≤ {maxSeqLen} tokens), each folder's own graph");
    double Ppl(string d) => Math.Exp(DeployedEvaluation.Run(d, data, maxSeqLen, null, maxExamples).Loss);
    double pplFp32 = Ppl(Dir("merged-fp32")), pplInt4 = Ppl(Dir("merged-int4")), pplAcc0 = Ppl(Dir("merged-int4-acc0"));
    double pplRequant = Ppl(Dir("merged-onto-int4-acc0")), pplEmb = Ppl(Dir("merged-int4-emb"));

    // Folding onto the int4 base vs quantizing the float merge directly: weights (dequantized) and logits.
    var direct = LinearWeight.Find(ModelReader.Load(Path.Combine(Dir("merged-int4-acc0"), OnnxLora.Models.GenAiFolder.DefaultDecoderFile)).Graph, "direct");
    var onto = LinearWeight.Find(ModelReader.Load(Path.Combine(Dir("merged-onto-int4-acc0"), OnnxLora.Models.GenAiFolder.DefaultDecoderFile)).Graph, "onto-int4");
    float maxWeightDiff = 0, maxStep = 0;
    foreach (var (weight, d) in direct)
    {
        var a = new float[(long)d.In * d.Out];
        var b = new float[a.Length];
        d.ReadColumns(0, d.Out, a);
        onto[weight].ReadColumns(0, d.Out, b);
        for (int i = 0; i < a.Length; i++)
        {
            maxWeightDiff = MathF.Max(maxWeightDiff, MathF.Abs(a[i] - b[i]));
        }
        maxStep = MathF.Max(maxStep, MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(d.Int4!.ScalesAsFloat())));
    }
    var ids = Enumerable.Range(0, Math.Min(64, maxSeqLen)).Select(i => (long)(1 + (i * 7 % 97))).ToArray();
    var la = DeployedEvaluation.Logits(Dir("merged-int4-acc0"), ids);
    var lb = DeployedEvaluation.Logits(Dir("merged-onto-int4-acc0"), ids);
    var lf = DeployedEvaluation.Logits(Dir("merged-fp32"), ids);
    double logitDiff = la.Zip(lb, (x, y) => Math.Abs((double)x - y)).Max();
    double int4LogitDiff = la.Zip(lf, (x, y) => Math.Abs((double)x - y)).Max();
    double maxLogit = lf.Max(x => Math.Abs((double)x));

    DecodeRate[]? rates = null;
    if (decode)
    {
        Log($"GenAI CPU decode: {repeats} round-robin runs of {tokens} tokens, fp32-merged vs int4-merged (vs int4 + embedding)");
        using var g32 = new GenAiGenerator(Dir("merged-fp32"));
        using var g4 = new GenAiGenerator(Dir("merged-int4"));
        using var g4e = new GenAiGenerator(Dir("merged-int4-emb"));
        var o = new GenerationOptions { MaxNewTokens = tokens, MinNewTokens = tokens };
        var prompt = Enumerable.Range(0, 16).Select(i => 1 + (i * 7 % 97)).ToArray();
        rates = [.. DecodeBenchmark.Measure([("fp32 merged", g32, o), ("int4 merged", g4, o), ("int4 + embedding", g4e, o)], prompt, repeats)];
    }

    string Pct(double x, double reference) => string.Create(inv, $"{(x / reference - 1) * 100:+0.00;-0.00}%");
    Console.WriteLine(string.Create(inv, $"## {name}"));
    Console.WriteLine();
    Console.WriteLine("| quantity | fp32 merged | int4 merged (builder default: embedding float) | vs fp32 | int4 merged + int4 embedding | vs fp32 |");
    Console.WriteLine("|---|---|---|---|---|---|");
    Console.WriteLine(string.Create(inv,
        $"| model files (model.onnx + data) | {fp32Bytes / 1048576.0:F2} MiB | {int4Bytes / 1048576.0:F2} MiB | 1/{(double)fp32Bytes / int4Bytes:F1} | {embBytes / 1048576.0:F2} MiB | 1/{(double)fp32Bytes / embBytes:F1} |"));
    Console.WriteLine(string.Create(inv,
        $"| eval perplexity, accuracy_level 4 | {pplFp32:F3} | {pplInt4:F3} | {Pct(pplInt4, pplFp32)} | {pplEmb:F3} | {Pct(pplEmb, pplFp32)} |"));
    Console.WriteLine(string.Create(inv, $"| eval perplexity, accuracy_level 0 | {pplFp32:F3} | {pplAcc0:F3} | {Pct(pplAcc0, pplFp32)} | | |"));
    if (rates is not null)
    {
        Console.WriteLine(string.Create(inv,
            $"| GenAI CPU decode tok/s, median of {repeats} | {rates[0].TokensPerSecond:F1} | {rates[1].TokensPerSecond:F1} | {rates[1].TokensPerSecond / rates[0].TokensPerSecond:F2}× | {rates[2].TokensPerSecond:F1} | {rates[2].TokensPerSecond / rates[0].TokensPerSecond:F2}× |"));
        Console.WriteLine(string.Create(inv,
            $"| GenAI CPU decode tok/s, best of {repeats} | {rates[0].BestTokensPerSecond:F1} | {rates[1].BestTokensPerSecond:F1} | {rates[1].BestTokensPerSecond / rates[0].BestTokensPerSecond:F2}× | {rates[2].BestTokensPerSecond:F1} | {rates[2].BestTokensPerSecond / rates[0].BestTokensPerSecond:F2}× |"));
    }
    Console.WriteLine();
    Console.WriteLine(string.Create(inv,
        $"Logits on a 64-token probe: max |int4 (accuracy_level 0) − fp32 merged| {int4LogitDiff:G3} (max |logit| {maxLogit:G3})."));
    Console.WriteLine();
    Console.WriteLine(string.Create(inv,
        $"Fold onto the int4 base (quantize, then dequantize + fold + requantize {requant.Requantized.Count} weights, {requant.KeptInt4.Count} kept) vs quantizing the fp32 merge directly (both accuracy_level 0): " +
        $"max |Δ dequantized weight| {maxWeightDiff:G3} (largest step {maxStep:G3}), max |Δ logits| {logitDiff:G3} on the probe, perplexity {pplRequant:F3} vs {pplAcc0:F3} ({(pplRequant / pplAcc0 - 1) * 100:+0.00;-0.00}%); " +
        $"requantization alone: max |W' − (dequant(W) + ΔW)| {requant.RequantizationMaxAbsError:G3}."));
    Console.WriteLine();

    if (variants)
    {
        // Non-default int4 options on the same adapter (the default stays the builder's: round-to-nearest, block 32,
        // symmetric): each merged, sized and evaluated as GenAI runs it (accuracy_level 4, the builder's CPU default).
        Log("option variants: merging and evaluating");
        var exclude = new HashSet<string>(StringComparer.Ordinal) { "/lm_head/MatMul" };
        (string Label, string Dir, Int4QuantizeOptions Options)[] rows =
        [
            ("`--asymmetric`", "variant-asym", int4 with { Symmetric = false }),
            ("`--block-size 16`", "variant-b16", int4 with { BlockSize = 16 }),
            ("`--exclude /lm_head/MatMul`", "variant-lmhead", int4 with { Exclude = exclude }),
            ("`--asymmetric --block-size 16`", "variant-asym-b16", int4 with { Symmetric = false, BlockSize = 16 }),
            ("`--asymmetric --exclude /lm_head/MatMul`", "variant-asym-lmhead", int4 with { Symmetric = false, Exclude = exclude }),
            ("`--block-size 16 --exclude /lm_head/MatMul`", "variant-b16-lmhead", int4 with { BlockSize = 16, Exclude = exclude }),
            ("`--asymmetric --block-size 16 --exclude /lm_head/MatMul`", "variant-asym-b16-lmhead", int4 with { Symmetric = false, BlockSize = 16, Exclude = exclude }),
        ];
        Console.WriteLine(string.Create(inv, $"Options on the same adapter (accuracy_level 4; fp32 merged: {fp32Bytes / 1048576.0:F2} MiB, perplexity {pplFp32:F3}):"));
        Console.WriteLine();
        Console.WriteLine("| `merge --quantize int4` options | model files | vs fp32 | eval perplexity | vs fp32 |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(inv,
            $"| (default: block 32, symmetric) | {int4Bytes / 1048576.0:F2} MiB | 1/{(double)fp32Bytes / int4Bytes:F1} | {pplInt4:F3} | {Pct(pplInt4, pplFp32)} |"));
        foreach (var (label, dir, options) in rows)
        {
            Int4Merge.Run(baseDir, adapter, Dir(dir), options, adapterDir);
            long bytes = Size(Dir(dir));
            double ppl = Ppl(Dir(dir));
            Console.WriteLine(string.Create(inv, $"| {label} | {bytes / 1048576.0:F2} MiB | 1/{(double)fp32Bytes / bytes:F1} | {ppl:F3} | {Pct(ppl, pplFp32)} |"));
        }
        Console.WriteLine();
    }
    return 0;
}
catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidDataException or NotSupportedException
    or OnnxLora.Models.ModelFormatException or OnnxLora.Rewrite.RewriteException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
