// The fine-tuning run behind `onnxlora train` and the worker: data → artifacts → step loop with
// schedule, eval, checkpoints and exact resume → PEFT adapter + metrics + loss curve in the run
// folder. It reports progress as events and never prints; cancellation checkpoints and returns; a caller's
// write guard (a worker's lease) that turns false stops it before its next write, writing nothing more.
// B=batch, T=time. Non-finite losses stop the run before any update touches the weights. A run folder this call
// created is removed again when the run fails before its first step (a model or data it refused): nothing written.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxLora.Models;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Engine;

namespace OnnxLora.Training.Run;

public sealed class Trainer
{
    public const string ConfigFile = "config.json";
    public const string MetricsFile = "metrics.jsonl";
    public const string AdapterFolder = "adapter";
    public const string LossCurveFile = "loss.png";
    public const string FullModelFolder = "model";

    private readonly TrainConfig _config;
    private readonly string _runDir;
    private readonly IProgress<TrainEvent>? _progress;
    private Func<bool>? _mayWrite;
    private bool _stepping;
    private int _step;

    public Trainer(TrainConfig config, string runDir, IProgress<TrainEvent>? progress = null)
    {
        config.Validate();
        _config = config;
        _runDir = Path.GetFullPath(runDir);
        _progress = progress;
    }

    /// <summary>Continues the run in <paramref name="runDir"/> from its newest checkpoint, with its saved config.</summary>
    public static Trainer Resume(string runDir, IProgress<TrainEvent>? progress = null)
    {
        var path = Path.Combine(runDir, ConfigFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{runDir}: not a run folder ({ConfigFile} missing)", path);
        }
        return new Trainer(TrainConfigLoader.Load(path), runDir, progress);
    }

    /// <param name="cancel">Stops at the next step with a checkpoint.</param>
    /// <param name="mayWrite">Asked before every write to the run folder; false throws <see cref="RunFencedException"/>.</param>
    public TrainSummary Run(CancellationToken cancel = default, Func<bool>? mayWrite = null)
    {
        bool created = !Directory.Exists(_runDir);
        try
        {
            return RunSteps(cancel, mayWrite);
        }
        catch (Exception e) when (created && !_stepping && e is not RunFencedException && Directory.Exists(_runDir))
        {
            Directory.Delete(_runDir, recursive: true);
            throw;
        }
    }

    private TrainSummary RunSteps(CancellationToken cancel, Func<bool>? mayWrite)
    {
        _mayWrite = mayWrite;
        var c = _config;
        Guard();
        Directory.CreateDirectory(_runDir);
        using var source = ModelSource.Resolve(c.Model ?? throw new BadInputException("config: 'model' is required"));
        var tokenizer = TextTokenizer.Load(source.OnnxDir);
        var (train, val, truncated, dropped) = LoadData(c, tokenizer, source.OnnxDir);
        Report(new TrainEvent("data", 0, 0, Message: DataMessage(train.Count + (c.ValData is null ? val.Count : 0), truncated, dropped)));
        Guard();
        TrainConfigLoader.Save(c, Path.Combine(_runDir, ConfigFile));

        var lora = c.FullFineTune ? null : c.Lora.ToSettings(c.Seed);
        var artifacts = TrainingArtifacts.Generate(source.ModelPath, Path.Combine(_runDir, "artifacts"),
            new TrainingGraphOptions
            {
                Lora = lora,
                FullFineTune = c.FullFineTune,
                Recompute = c.Memory.RecomputeAttention,
                AttentionBlocks = c.Memory.AttentionBlocks,
                LossChunks = c.Memory.LossChunks,
                RecomputeLogits = c.Memory.RecomputeLogits,
                Device = c.Runtime.Device,
                WeightViews = c.Memory.WeightViews,
            }, c.ToAdamWOptions());
        var initial = InitialValues(artifacts, lora);
        long padId = tokenizer.PadId ?? tokenizer.EosId ?? 0;
        var loader = c.Packing
            ? DataLoader.ForPacked(SequencePacker.Pack(train, c.MaxSeqLen, padId), c.BatchSize, padId, (ulong)c.Seed)
            : DataLoader.ForExamples(train, c.BatchSize, padId, (ulong)c.Seed);
        int stepsPerEpoch = Math.Max(1, loader.BatchesPerEpoch / c.GradAccum);
        int total = c.MaxSteps ?? stepsPerEpoch * c.Epochs;
        var schedule = c.ToSchedule(total);

        // one memory map of the frozen weights for the training and the eval session (CPU, weight views)
        using var weights = StepEngine.UsesSharedWeights(artifacts, c.Runtime) ? new SharedWeights() : null;
        using var engine = new StepEngine(artifacts, initial, c.Runtime, weights: weights);
        int step = 0;
        var resumeFrom = Checkpoint.List(_runDir).LastOrDefault();
        if (resumeFrom is not null)
        {
            var ck = Checkpoint.Load(resumeFrom);
            engine.Restore(ck.Parameters, ck.ExpAvg, ck.ExpAvgSq, ck.OptimizerStep);
            loader.Restore(ck.Loader);
            step = ck.Step;
        }
        // Lines a crashed run wrote past the point this run continues from (its checkpoint, or the start when
        // it died before the first one) are written again below, identically; drop them so each step has one row.
        // The kept row of the resume step gives its loss: a run resumed at its last step makes no step of its own.
        double? lastLoss = TruncateMetrics(resumeFrom is null ? -1 : step, total);
        if (resumeFrom is not null)
        {
            Report(new TrainEvent("resume", step, total, lastLoss, Message: $"resumed from {Path.GetFileName(resumeFrom)}"));
        }
        using var evaluator = val.Count > 0 ? new Evaluator(artifacts, val, padId, c.BatchSize, c.Runtime, weights) : null;
        double? evalBefore = step == 0 ? evaluator?.Loss(initial) : null;
        if (evalBefore is { } eb)
        {
            AppendMetrics(new { step = 0, eval_loss = eb, eval_ppl = Math.Exp(eb) });
        }

        var shapes = artifacts.Parameters.ToDictionary(p => p.Name, p => p.Shape);
        int startStep = step;
        var sw = Stopwatch.StartNew();
        long tokens = 0;
        bool completed = true;
        _stepping = true;
        while (step < total)
        {
            if (cancel.IsCancellationRequested)
            {
                completed = false;
                break;
            }
            double lossSum = 0;
            for (int micro = 0; micro < c.GradAccum; micro++)
            {
                var tb = loader.Next();
                using var batch = new BatchTensors(tb.InputIds, tb.AttentionMask, tb.Labels, tb.B, tb.T);
                float loss = engine.ForwardBackward(batch);
                if (!float.IsFinite(loss))
                {
                    throw new NonFiniteLossException(step + 1, loss, Checkpoint.List(_runDir).LastOrDefault());
                }
                lossSum += loss;
                tokens += tb.AttentionMask.Count(m => m != 0);
            }
            double lr = schedule.At(step);
            engine.OptimizerStep((float)lr);
            step++;
            lastLoss = lossSum / c.GradAccum;
            double tps = tokens / Math.Max(sw.Elapsed.TotalSeconds, 1e-9);
            var eta = TimeSpan.FromSeconds(sw.Elapsed.TotalSeconds / (step - startStep) * (total - step));
            AppendMetrics(new { step, loss = lastLoss, lr, grad_norm = engine.LastGradNorm, skipped = !engine.LastStepFinite, tokens_per_s = tps });
            _step = step; // the last step whose row is written
            Report(new TrainEvent("step", step, total, lastLoss, lr, tps, eta));
            if (evaluator is not null && c.EvalEvery > 0 && step % c.EvalEvery == 0 && step < total)
            {
                var el = evaluator.Loss(engine.Parameters());
                AppendMetrics(new { step, eval_loss = el, eval_ppl = Math.Exp(el) });
                Report(new TrainEvent("eval", step, total, el));
            }
            if (c.SaveEvery > 0 && step % c.SaveEvery == 0 && step < total)
            {
                SaveCheckpoint(engine, loader, step, shapes, c.KeepLast);
            }
        }
        if (!completed)
        {
            SaveCheckpoint(engine, loader, step, shapes, c.KeepLast);
            Report(new TrainEvent("interrupted", step, total, Message: "checkpoint saved; continue with --resume"));
        }
        double? evalAfter = completed ? evaluator?.Loss(engine.Parameters()) : null;
        if (evalAfter is { } ea)
        {
            AppendMetrics(new { step, eval_loss = ea, eval_ppl = Math.Exp(ea) });
        }
        var adapterDir = Path.Combine(_runDir, AdapterFolder);
        long adapterBytes = 0;
        if (completed)
        {
            SaveCheckpoint(engine, loader, step, shapes, c.KeepLast);
            Guard();
            adapterBytes = SaveAdapter(engine, artifacts, lora, adapterDir, source);
            Guard();
            LossCurve.Write(Path.Combine(_runDir, MetricsFile), Path.Combine(_runDir, LossCurveFile));
        }
        long baseBytes = Directory.GetFiles(source.OnnxDir, "model.onnx*").Sum(f => new FileInfo(f).Length);
        long trainable = artifacts.Parameters.Sum(p => p.ElementCount);
        long totalParams = BaseParameterCount(source.ModelPath) + (c.FullFineTune ? 0 : trainable);
        return new TrainSummary(_runDir, adapterDir, step, completed, lastLoss, evalBefore, evalAfter, trainable, totalParams,
            adapterBytes, baseBytes, truncated, tokens / Math.Max(sw.Elapsed.TotalSeconds, 1e-9), PeakRss())
        {
            EmptyExamples = dropped.Empty,
            NoCountedTokenExamples = dropped.NoCounted,
        };
    }

    private static (IReadOnlyList<TokenizedExample> Train, IReadOnlyList<TokenizedExample> Val, int Truncated, (int Empty, int NoCounted) Dropped)
        LoadData(TrainConfig c, TextTokenizer tok, string modelDir)
    {
        var data = c.Data ?? throw new BadInputException("config: 'data' is required");
        var raw = JsonlDatasetReader.ReadFile(data, c.DatasetFormat);
        var valRaw = c.ValData is null ? null : JsonlDatasetReader.ReadFile(c.ValData, c.DatasetFormat);
        ChatTokenizer? chat = raw.Concat(valRaw ?? []).Any(r => r.Format == DatasetFormat.Messages)
            ? new ChatTokenizer(ChatTemplateRenderer.ForModel(modelDir, c.ChatTemplate), tok)
            : null;
        var et = new ExampleTokenizer(tok, c.MaxSeqLen, chat);
        var all = et.TokenizeAll(raw);
        RequireUsable(data, raw.Count, all);
        IReadOnlyList<TokenizedExample> train = all.Examples, val = [];
        int truncated = all.TruncatedCount;
        var dropped = (all.EmptyCount, all.NoCountedTokenCount);
        if (valRaw is not null)
        {
            var v = et.TokenizeAll(valRaw);
            RequireUsable(c.ValData!, valRaw.Count, v);
            val = v.Examples;
            truncated += v.TruncatedCount;
            dropped = (dropped.Item1 + v.EmptyCount, dropped.Item2 + v.NoCountedTokenCount);
        }
        else if (c.ValSplit > 0)
        {
            (train, val) = DatasetSplitter.Split(all.Examples, c.ValSplit, (ulong)c.Seed);
        }
        return (train, val, truncated, dropped);
    }

    private static void RequireUsable(string file, int read, TokenizedDataset d)
    {
        if (d.Count == 0)
        {
            throw new InvalidDataException(
                $"{file}: no usable example among {read}: {d.EmptyCount} empty, {d.NoCountedTokenCount} with no counted token (max_seq_len too short?)");
        }
    }

    private static string DataMessage(int examples, int truncated, (int Empty, int NoCounted) dropped)
    {
        string text = $"{examples} examples";
        if (dropped.Empty + dropped.NoCounted > 0)
        {
            text += $"; dropped {dropped.Empty} empty and {dropped.NoCounted} with no counted token";
        }
        return truncated > 0 ? text + $"; {truncated} truncated to max_seq_len" : text;
    }

    private static Dictionary<string, float[]> InitialValues(TrainingArtifacts a, LoraSettings? lora)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var t in a.Targets)
        {
            var (A, B) = LoraInit.Initialize(t, lora!.Seed);
            d[t.A] = A;
            d[t.B] = B;
        }
        foreach (var p in a.Parameters.Where(p => p.Initial is not null))
        {
            d[p.Name] = p.Initial!.ToFloats();
        }
        return d;
    }

    private void SaveCheckpoint(StepEngine engine, DataLoader loader, int step, Dictionary<string, long[]> shapes, int keepLast)
    {
        Guard();
        var (m, v) = engine.Moments();
        new Checkpoint(step, engine.StepCount, loader.State, engine.Parameters(), m, v).Save(_runDir, shapes, keepLast);
        Report(new TrainEvent("checkpoint", step, 0, Message: Checkpoint.PathFor(_runDir, step)));
    }

    private static long SaveAdapter(StepEngine engine, TrainingArtifacts a, LoraSettings? lora, string dir, ModelSource source)
    {
        var p = engine.Parameters();
        if (lora is null)
        {
            FullModelWriter.Save(source.OnnxDir, p, Path.Combine(Path.GetDirectoryName(dir)!, FullModelFolder));
            return 0;
        }
        PeftAdapter.Save(dir, lora, a.Parameters.Select(x => (x.Name, p[x.Name], x.Shape)), BaseMetadata(a, source), source.OnnxDir);
        return new FileInfo(Path.Combine(dir, PeftAdapter.WeightsFile)).Length;
    }

    /// <summary>The base fingerprint merge checks: BaseHash over the weights of the modules the adapter targets.</summary>
    private static Dictionary<string, string> BaseMetadata(TrainingArtifacts a, ModelSource source) =>
        BaseHash.Metadata(ModelReader.Load(source.ModelPath).Graph, a.Targets.Select(t => t.Layer));

    private void AppendMetrics(object line)
    {
        Guard();
        File.AppendAllText(Path.Combine(_runDir, MetricsFile), JsonSerializer.Serialize(line) + "\n");
    }

    private void Guard()
    {
        if (_mayWrite is { } mayWrite && !mayWrite())
        {
            throw new RunFencedException(_step);
        }
    }

    /// <summary>
    /// Keeps the metric lines up to <paramref name="step"/> (-1: none). The final eval at <paramref name="total"/> comes
    /// after the last checkpoint is written, so a run resumed from there computes it again: it is dropped too.
    /// Returns the training loss of the kept row of <paramref name="step"/>, or null when there is none.
    /// </summary>
    private double? TruncateMetrics(int step, int total)
    {
        var path = Path.Combine(_runDir, MetricsFile);
        if (!File.Exists(path))
        {
            return null;
        }
        Guard();
        double? stepLoss = null;
        var keep = File.ReadAllLines(path).Where(l =>
        {
            try
            {
                using var d = JsonDocument.Parse(l);
                int s = d.RootElement.GetProperty("step").GetInt32();
                bool hasLoss = d.RootElement.TryGetProperty("loss", out var loss);
                bool finalEval = s == total && !hasLoss;
                if (s == step && hasLoss && loss.ValueKind == JsonValueKind.Number)
                {
                    stepLoss = loss.GetDouble();
                }
                return s < step || (s == step && !finalEval);
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                return false; // a line torn by a crash mid-append; the resumed run rewrites it
            }
        }).ToList();
        File.WriteAllLines(path + ".tmp", keep);
        File.Move(path + ".tmp", path, overwrite: true);
        return stepLoss;
    }

    private void Report(TrainEvent e) => _progress?.Report(e);

    /// <summary>Weights of the base model (floating initializers, rotary tables excluded).</summary>
    private static long BaseParameterCount(string modelPath) => ModelReader.Load(modelPath).Graph.Initializers.Values
        .Where(i => i.Type.IsFloating() && i.Name is not (GenAiNames.CosCache or GenAiNames.SinCache))
        .Sum(i => i.ElementCountValue);

    public static long PeakRss() => Runtime.ProcStatus.ReadBytes(Runtime.ProcStatus.PeakRss) ?? Environment.WorkingSet;
}
