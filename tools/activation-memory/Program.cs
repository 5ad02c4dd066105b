// activation-memory: what our LoRA training graph keeps from forward for backward (SavedActivations)
// for a preset shape, with each memory saver switched on in turn, plus the weights the device holds.
// No weights are written or read: the graph is built from the config alone, so a Llama-3-8B report
// takes seconds on a laptop. The saved set is a floor under the step's peak (transients come on top); the
// largest attention tensor (float32 scores of one layer, or of one query block) is printed beside it.
// --int4 sym|asym lays every linear (lm_head included) out as the builder's -p int4 MatMulNBits (QLoRA): weights
// are then counted at their int4 size, and the largest weight piece dX dequantizes at once is reported.
// Usage: activation-memory [--preset llama-3.2-1b] [--batch 8] [--seq 1024] [--dtype bfloat16] [--device cuda] [--attention-blocks 8] [--int4 sym|asym] [--top N]
using System.Globalization;
using OnnxLora.Autodiff;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Passes;
using OnnxLora.Training.Artifacts;

if (args.Contains("--help"))
{
    Console.WriteLine("usage: activation-memory [--preset llama-3.2-1b|llama-3-8b|llama-3-70b|...] [--batch 8] [--seq 1024] [--dtype bfloat16|float16|float32] [--device cuda|cpu] [--attention-blocks N (default 8)] [--int4 none|sym|asym] [--top N]");
    return 0;
}
Args opts;
LlamaConfig config;
long batch, seq;
ElementType dtype;
Device device;
int blocks;
string int4;
try
{
    opts = Args.Parse(args);
    config = RandomLlama.Preset(opts.Get("preset", "llama-3.2-1b"));
    batch = Positive("batch", opts.Get("batch", "8"));
    seq = Positive("seq", opts.Get("seq", "1024"));
    dtype = opts.Get("dtype", "bfloat16") switch
    {
        "float32" => ElementType.Float,
        "float16" => ElementType.Float16,
        "bfloat16" => ElementType.BFloat16,
        var x => throw new ArgumentException($"--dtype float32|float16|bfloat16, got '{x}'"),
    };
    device = RuntimeNames.Parse<Device>(opts.Get("device", "cuda"), "--device");
    blocks = (int)Positive("attention-blocks", opts.Get("attention-blocks", "8"));
    if (blocks < 2)
    {
        throw new ArgumentException($"--attention-blocks must be at least 2 (the blocked variant), got {blocks}");
    }
    int4 = opts.Get("int4", "none") is "none" or "sym" or "asym" ? opts.Get("int4", "none") : throw new ArgumentException($"--int4 none|sym|asym, got '{opts.Get("int4", "")}'");
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
string Get(string k, string d) => opts.Get(k, d);
var dims = new Dictionary<string, long> { ["batch_size"] = batch, ["sequence_length"] = seq, ["total_sequence_length"] = seq };
foreach (var (symbol, size) in BlockedAttention.BlockDims(seq, blocks))
{
    dims[symbol] = size;
}

Model Graph()
{
    var m = GenAiLlamaGraph.Build(config, dtype, (name, shape) => new Initializer(name, dtype, shape,
        TensorData.FromGenerator(Initializer.ElementCount(shape) * dtype.SizeInBytes(),
            _ => throw new InvalidOperationException("activation-memory builds graphs only; no weight is read"))));
    if (int4 != "none")
    {
        Int4Synthetic.Apply(m, symmetric: int4 == "sym", seed: 0);
    }
    return m;
}

var variants = new (string Label, TrainingGraphOptions Options)[]
{
    ("nothing recomputed, 1 loss chunk", new() { Recompute = false, LossChunks = 1 }),
    ("recompute attention", new() { Recompute = true, LossChunks = 1 }),
    ("+ 8 loss chunks, recompute logits", new() { Recompute = true, LossChunks = 8, RecomputeLogits = true }),
    ($"recompute attention, {blocks} query blocks", new() { Recompute = true, LossChunks = 1, AttentionBlocks = blocks }),
    ($"+ 8 loss chunks, recompute logits, {blocks} blocks", new() { Recompute = true, LossChunks = 8, RecomputeLogits = true, AttentionBlocks = blocks }),
};
Console.WriteLine($"{Get("preset", "llama-3.2-1b")} {batch}x{seq} {dtype.OnnxName()}{(int4 == "none" ? "" : $" int4 ({int4}, block {Int4Synthetic.BlockSize}) base")} LoRA r16 on 7 projections, graphs for {RuntimeNames.Of(device)}");
double gib = 1L << 30;
foreach (var (label, o) in variants)
{
    var g = TrainingGraph.Build(Graph(), o with
    {
        Lora = new LoraSettings { Rank = 16, Alpha = 32 },
        LossScaling = dtype != ElementType.Float,
        Device = device,
    });
    var saved = SavedActivations.Of(g.Model, dims);
    var byKind = saved.Tensors.GroupBy(t => Kind(t.Producer)).OrderByDescending(k => k.Sum(t => t.Bytes))
        .Select(k => $"{k.Key} {k.Sum(t => t.Bytes) / gib:F2}");
    long weights = g.Model.Graph.Initializers.Values.Sum(i => i.ElementCountValue * i.Type.SizeInBytes());
    // a Transpose of a weight is folded by ORT into a second, transposed copy of it
    long copies = g.Model.Graph.Nodes.Where(n => n.OpType == "Transpose" && g.Model.Graph.IsInitializer(n.Input(0)))
        .Select(n => n.Input(0)).Distinct().Sum(w => g.Model.Graph.Initializers[w].ElementCountValue * g.Model.Graph.Initializers[w].Type.SizeInBytes());
    var nodes = g.Model.Graph.Nodes;
    // float32 scores/probabilities of one layer (B,H,T,T), or of the largest query block (B,H,T−⌊(N−1)T/N⌋,T)
    long rows = o.AttentionBlocks > 1 ? BlockedAttention.BlockDims(seq, o.AttentionBlocks)[BlockedAttention.RowsSymbol(o.AttentionBlocks - 1)] : seq;
    double largest = (double)batch * config.NumAttentionHeads * rows * seq * 4;
    Console.WriteLine($"  {label,-44} {nodes.Count,6:N0} nodes ({nodes.Count(n => n.OpType == "NonZero")} NonZero)  saved {saved.TotalBytes / gib,7:F2} GiB" +
        $" = {saved.TotalBytes / gib / config.NumHiddenLayers,6:F3} GiB/layer  largest attention tensor {largest / gib:F3} GiB");
    Console.WriteLine($"  {"",-44} {string.Join(", ", byKind)}; weights {weights / gib:F2} GiB + folded transposes {copies / gib:F2} GiB" +
        (saved.Unsized.Count > 0 ? $"  [{saved.Unsized.Count} unsized: {string.Join(", ", saved.Unsized.Take(3))}]" : ""));
    var nbits = nodes.Where(n => n.OpType == "MatMulNBits").ToList();
    if (nbits.Count > 0)
    {
        // dX of each int4 linear dequantizes at most Int4ChunkBytes of W at once (float32); a few temporaries of that size
        long chunk = nbits.Max(n => Math.Min(n.GetInt("N", 0) * n.GetInt("K", 0) * 4, new GradientOptions().Int4ChunkBytes));
        Console.WriteLine($"      int4: {nbits.Count} MatMulNBits, largest dequantized dX piece {chunk / (double)(1 << 20):F0} MiB; "
            + $"weights + saved activations {(weights + copies + saved.TotalBytes) / gib:F2} GiB (+ LoRA optimizer state and transients)");
    }
    if (Get("top", "") is { Length: > 0 } top)
    {
        foreach (var t in saved.Tensors.OrderByDescending(t => t.Bytes).Take(int.Parse(top, CultureInfo.InvariantCulture)))
        {
            Console.WriteLine($"      {t.Bytes / (double)(1 << 20),9:F1} MiB  {t.Type.OnnxName(),-8} [{string.Join(",", t.Shape)}]  {t.Name}");
        }
    }
}
return 0;

static long Positive(string name, string text) =>
    long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"--{name} must be a positive integer, got '{text}'");

static string Kind(string producer) =>
    producer.StartsWith("/loss/", StringComparison.Ordinal) ? "loss"
    : producer.Contains("/attn/", StringComparison.Ordinal) || producer.Contains("self_attn", StringComparison.Ordinal) ? "attention"
    : producer.Contains("/mlp/", StringComparison.Ordinal) || producer.Contains(".mlp.", StringComparison.Ordinal) ? "mlp"
    : producer.Contains("layernorm", StringComparison.Ordinal) || producer.Contains("norm", StringComparison.Ordinal) ? "norm"
    : producer.Contains("/lora/", StringComparison.Ordinal) ? "lora"
    : "other";
