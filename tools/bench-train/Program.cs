// bench-train: training throughput and peak memory of one fine-tuning mode on a random-init Llama
// (default preset bench-58m). LoRA r=16 alpha=32 on all 7 projections, or full fine-tune; fp32,
// AdamW, batch B x T random tokens; warmup steps are excluded and tokens/s uses the median step. One mode per process,
// so VmHWM (peak RSS) belongs to that mode alone. It prints one RESULT line for run.sh to parse.
// Sessions follow RuntimeOptions: ONNXLORA_* variables give defaults (as in the CLI), --device/--threads/--tf32 win.
// --synthetic builds the preset's graph directly with seeded random weights (no checkpoint, no import), and
// --int4 sym|asym then lays every linear out as the builder's -p int4 MatMulNBits (QLoRA; Int4Synthetic): run the
// same preset with --int4 none and sym to compare fp32 LoRA with QLoRA peak RSS.
// B=batch, T=time
using System.Diagnostics;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;

var opts = Args.Parse(args);
var hfDir = opts.Get("model", Path.Combine(Path.GetTempPath(), "onnxlora-bench-58m"));
var mode = opts.Get("mode", "lora");
int steps = int.Parse(opts.Get("steps", "5"));
int warmup = int.Parse(opts.Get("warmup", "2"));
int batch = int.Parse(opts.Get("batch", "4"));
int time = int.Parse(opts.Get("seq", "256"));
int seed = int.Parse(opts.Get("seed", "0"));
var runtime = OnnxLora.Cli.RuntimeEnvironment.Defaults();
runtime = runtime with
{
    Device = RuntimeNames.Parse<Device>(opts.Get("device", RuntimeNames.Of(runtime.Device)), "--device"),
    Threads = int.Parse(opts.Get("threads", runtime.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture),
    Tf32 = bool.Parse(opts.Get("tf32", runtime.Tf32 ? "true" : "false")),
};
var device = runtime.Device;
var deviceName = RuntimeNames.Of(device);
var recompute = bool.Parse(opts.Get("recompute", "true")); // attention probabilities recomputed in backward
int? lossChunks = opts.Get("loss-chunks", "") is { Length: > 0 } lc ? int.Parse(lc) : null; // default: by vocabulary
var recomputeLogits = bool.Parse(opts.Get("recompute-logits", "false"));
bool? weightViews = opts.Get("weight-views", "") is { Length: > 0 } wv ? bool.Parse(wv) : null; // false: ORT's folded, prepacked weight copies; default by dtype
int attentionBlocks = int.Parse(opts.Get("attention-blocks", "1")); // 1: full (B,H,T,T) attention; N: N query blocks
var dtype = opts.Get("dtype", "float32"); // float32 | float16 | bfloat16 (base weights; LoRA masters stay fp32)
var synthetic = bool.Parse(opts.Get("synthetic", "false"));
var int4 = opts.Get("int4", "none"); // none | sym | asym (with --synthetic)
if (int4 is not ("none" or "sym" or "asym") || (int4 != "none" && !synthetic) || (synthetic && dtype != "float32"))
{
    Console.Error.WriteLine("error: --int4 none|sym|asym needs --synthetic true, which is float32 only");
    return 2;
}

if (!synthetic && !File.Exists(Path.Combine(hfDir, "model.safetensors")))
{
    var sw0 = Stopwatch.StartNew();
    // a bf16 benchmark gets a bf16 checkpoint: an 8B model is 16 GB on disk instead of 32
    RandomLlama.Write(hfDir, RandomLlama.Preset(opts.Get("preset", "bench-58m")), seed,
        dtype == "bfloat16" ? OnnxLora.Onnx.Safetensors.SafetensorsDType.BF16 : OnnxLora.Onnx.Safetensors.SafetensorsDType.F32);
    Console.Error.WriteLine($"wrote random model to {hfDir} in {sw0.Elapsed.TotalSeconds:F1}s");
}

// Device-wide GPU memory (NVML, as nvidia-smi's memory.used) sampled every 10 ms; baseline before ORT starts.
using var gpu = device == Device.Cuda ? OnnxLora.Training.Runtime.GpuMemory.Open() : null;
long gpuBaseline = gpu?.UsedBytes() ?? 0;
// The checkpoint is imported once per dtype into a cache folder beside it (the 1B preset's import writes 5 GB;
// rerunning it per process would dominate the benchmark's wall time and disk traffic).
var onnxDir = opts.Get("onnx", $"{hfDir.TrimEnd('/')}-onnx-{dtype}");
if (!synthetic && !File.Exists(Path.Combine(onnxDir, "model.onnx")))
{
    var et = dtype switch { "float32" => ElementType.Float, "float16" => ElementType.Float16, "bfloat16" => ElementType.BFloat16, _ => throw new ArgumentException($"--dtype float32|float16|bfloat16, got '{dtype}'") };
    var sw0 = Stopwatch.StartNew();
    HfImporter.Import(hfDir, onnxDir, et);
    Console.Error.WriteLine($"imported {hfDir} into {onnxDir} in {sw0.Elapsed.TotalSeconds:F1}s");
}
var work = Path.Combine(Path.GetTempPath(), "onnxlora-bench-" + Guid.NewGuid().ToString("N")[..8]);
try
{
    var modelPath = Path.Combine(onnxDir, "model.onnx");
    int? syntheticVocab = null;
    if (synthetic)
    {
        var sw1 = Stopwatch.StartNew();
        var config = RandomLlama.Preset(opts.Get("preset", "bench-58m"));
        var m = GenAiLlamaGraph.Build(config, ElementType.Float, (name, shape) => RandomWeight(name, shape, seed));
        int converted = int4 == "none" ? 0 : Int4Synthetic.Apply(m, symmetric: int4 == "sym", seed);
        modelPath = Path.Combine(work, "synthetic", "model.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        ModelWriter.Save(m, modelPath, new ExternalDataOptions { DataFileName = "model.onnx.data" });
        syntheticVocab = config.VocabSize;
        Console.Error.WriteLine($"{mode}: synthetic {opts.Get("preset", "bench-58m")} ({(int4 == "none" ? "float32" : $"{converted} int4 linears, {int4}")}) written in {sw1.Elapsed.TotalSeconds:F1}s");
    }
    var options = mode switch
    {
        "lora" => new TrainingGraphOptions { Lora = new LoraSettings { Rank = 16, Alpha = 32 }, LossScaling = dtype != "float32", Recompute = recompute, LossChunks = lossChunks, RecomputeLogits = recomputeLogits, Device = device, WeightViews = weightViews, AttentionBlocks = attentionBlocks },
        "full" => new TrainingGraphOptions { Lora = null, FullFineTune = true, LossScaling = dtype != "float32", Recompute = recompute, LossChunks = lossChunks, RecomputeLogits = recomputeLogits, Device = device, WeightViews = weightViews, AttentionBlocks = attentionBlocks },
        _ => throw new ArgumentException($"--mode lora|full, got '{mode}'"),
    };
    // the base model's weights as stored (the GenAI layout keeps a tied embedding's lm_head as its own tensor)
    double weightMb = ModelReader.Load(modelPath).Graph.Initializers.Values.Sum(i => i.ElementCountValue * i.Type.SizeInBytes()) / 1048576.0;
    var sw = Stopwatch.StartNew();
    var artifacts = TrainingArtifacts.Generate(modelPath, opts.Get("artifacts", Path.Combine(work, "artifacts")), options, new AdamWOptions());
    Console.Error.WriteLine($"{mode}: artifacts in {sw.Elapsed.TotalSeconds:F1}s, {artifacts.Parameters.Count} parameters, " +
        $"{artifacts.Parameters.Sum(p => p.ElementCount):N0} trainable values, RSS {Status("VmRSS:"):F0} MB, peak {Status("VmHWM:"):F0} MB");
    // The node count per op type of the training graph: a stable signal on a noisy machine.
    var trainNodes = ModelReader.Load(artifacts.TrainingModelPath).Graph.Nodes;
    Console.Error.WriteLine($"{mode}: training graph {trainNodes.Count} nodes: " + string.Join(", ",
        trainNodes.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}")));

    var rng = new Random(seed);
    var initial = new Dictionary<string, float[]>(StringComparer.Ordinal);
    foreach (var p in artifacts.Parameters)
    {
        initial[p.Name] = p.Initial is { } init ? init.ToFloats() : LoraInit(p, rng);
    }
    sw.Restart();
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    using var engine = new StepEngine(artifacts, initial, runtime);
    double sessionCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
    initial.Clear();
    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true); // initial values (full: 232 MB) are copied in
    double sessionSeconds = sw.Elapsed.TotalSeconds;
    Console.Error.WriteLine($"{mode}: sessions in {sessionSeconds:F1}s (cpu {sessionCpu:F1}s), RSS {Status("VmRSS:"):F0} MB (anon {Status("RssAnon:"):F0}, file {Status("RssFile:"):F0}), peak {Status("VmHWM:"):F0} MB");

    var vocab = syntheticVocab ?? LlamaConfig.Load(Path.Combine(hfDir, "config.json")).VocabSize;
    var ids = new long[batch * time];
    for (int i = 0; i < ids.Length; i++)
    {
        ids[i] = rng.Next(vocab);
    }
    var mask = Enumerable.Repeat(1L, ids.Length).ToArray();
    using var tensors = new BatchTensors(ids, mask, ids, batch, time);

    string common = $"impl=onnxlora mode={mode} device={deviceName} threads={runtime.Threads} dtype={dtype} int4={int4} batch={batch} seq={time} " +
        $"weight_mb={weightMb:F0} session_s={sessionSeconds:F1} session_cpu_s={sessionCpu:F1}";
    if (steps == 0)
    {
        Console.WriteLine($"RESULT {common} peak_rss_mb={Status("VmHWM:"):F0}");
        return 0;
    }
    var times = new List<double>();
    var cpuTimes = new List<double>();
    for (int s = 0; s < warmup + steps; s++)
    {
        sw.Restart();
        var stepCpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        float loss = engine.ForwardBackward(tensors);
        engine.OptimizerStep(1e-4f);
        double secs = sw.Elapsed.TotalSeconds;
        double cpuSecs = (Process.GetCurrentProcess().TotalProcessorTime - stepCpu0).TotalSeconds;
        if (s >= warmup)
        {
            times.Add(secs);
            cpuTimes.Add(cpuSecs);
        }
        Console.Error.WriteLine($"{mode}: step {s + 1}{(s < warmup ? " (warmup)" : "")} loss {loss:F4} {secs:F2}s (cpu {cpuSecs:F2}s), RSS {Status("VmRSS:"):F0} MB (anon {Status("RssAnon:"):F0}, file {Status("RssFile:"):F0})");
    }
    // The median step: the machine is shared, and a median shrugs off steps slowed by neighbours. The CPU seconds
    // of the process per step (all threads) move far less with neighbours than wall time: a proxy on a busy machine.
    double median = Median(times);
    double tokS = (double)batch * time / median;
    Console.WriteLine($"RESULT {common} tok_s={tokS:F1} step_s={median:F3} mean_step_s={times.Average():F3} cpu_step_s={Median(cpuTimes):F3} peak_rss_mb={Status("VmHWM:"):F0} attention_blocks={attentionBlocks}" +
        (gpu is null ? "" : $" gpu_peak_mb={(gpu.PeakBytes - gpuBaseline) / 1048576.0:F0}"));
}
finally
{
    AtomicFolder.TryDelete(work);
}
return 0;

// A seeded weight for --synthetic: norms 1, everything else U(-0.02, 0.02), generated as it is written.
static Initializer RandomWeight(string name, long[] shape, int seed) =>
    new(name, ElementType.Float, shape, TensorData.FromGenerator(Initializer.ElementCount(shape) * 4, stream =>
    {
        var rng = new Random(HashCode.Combine(seed, name.Length, name.GetHashCode(StringComparison.Ordinal)));
        bool norm = name.Contains("norm", StringComparison.Ordinal);
        var buf = new float[1 << 18];
        for (long left = Initializer.ElementCount(shape); left > 0; left -= buf.Length)
        {
            int n = (int)Math.Min(buf.Length, left);
            for (int i = 0; i < n; i++)
            {
                buf[i] = norm ? 1f : (float)((rng.NextDouble() * 2 - 1) * 0.02);
            }
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buf.AsSpan(0, n)));
        }
    }));

static double Median(List<double> values)
{
    var v = values.Order().ToList();
    return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
}

// PEFT's init: A Kaiming-uniform (a=sqrt(5)) → U(-1/sqrt(in), 1/sqrt(in)), B zero.
static float[] LoraInit(TrainableParameter p, Random rng)
{
    var v = new float[p.ElementCount];
    if (p.Name.Contains("lora_A", StringComparison.Ordinal))
    {
        float bound = 1f / MathF.Sqrt(p.Shape[1]);
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        }
    }
    return v;
}

// VmHWM (peak RSS) or VmRSS from /proc/self/status, in MB.
static double Status(string key) => OnnxLora.Training.Runtime.ProcStatus.ReadBytes(key) is { } b ? b / 1048576.0 : double.NaN;
