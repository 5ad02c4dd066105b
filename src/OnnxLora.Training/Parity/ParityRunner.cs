// `onnxlora parity`: runs a batch through our graphs and writes what transformers/PEFT would
// report — base.logits/base.loss, with an adapter lora.logits/lora.loss/grad.<name>, with a
// trajectory the AdamW losses — and compares them with same-named reference tensors. Every reference
// tensor it did not compare, and every output of ours without a reference, is listed with the reason.
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Engine;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Parity;

public sealed record ParityOptions
{
    public required string Model { get; init; }
    public required string Batch { get; init; }
    public string? Output { get; init; }
    public string? Adapter { get; init; }
    public string? Trajectory { get; init; }
    /// <summary>ours=reference pairs, e.g. base.logits=merged.logits.</summary>
    public IReadOnlyDictionary<string, string> ReferenceKeys { get; init; } = new Dictionary<string, string>();
    /// <summary>Device and session settings of every graph the check runs (TF32 off by default: exact fp32 on CUDA).</summary>
    public RuntimeOptions Runtime { get; init; } = new();
    /// <summary>Loss chunks of the trajectory's training graph (null: the default for the vocabulary).</summary>
    public int? LossChunks { get; init; }
    public bool RecomputeLogits { get; init; }
    /// <summary>Query blocks of the lowered attention in every graph the check builds (1: full).</summary>
    public int AttentionBlocks { get; init; } = 1;
    /// <summary>Column groups of wide int4 linears in every graph the check builds (TrainingGraphOptions.Int4GroupBytes).</summary>
    public long Int4GroupBytes { get; init; } = Rewrite.Passes.Int4ColumnSplit.DefaultMaxFloatBytes;
    /// <summary>Trajectory with dynamic loss scaling from this initial scale (mixed precision: fp16 bases).</summary>
    public float? LossScale { get; init; }
}

/// <param name="NotCompared">Reference tensors (batch inputs aside) that no comparison read, with the reason.</param>
/// <param name="NoReference">Our outputs that were compared with nothing, with the reason.</param>
/// <param name="ComputeType">The model's activation dtype (fp16/bf16 models are checked against fp32 references at looser limits).</param>
public sealed record ParityResult(IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Outputs, IReadOnlyList<ParityComparison> Comparisons,
    IReadOnlyList<ParityGap> NotCompared, IReadOnlyList<ParityGap> NoReference, Onnx.Ir.ElementType ComputeType = Onnx.Ir.ElementType.Float);

public sealed record ParityComparison(string Name, string Reference, double MaxAbs, double MaxAbsReference)
{
    public double Relative => MaxAbsReference == 0 ? MaxAbs : MaxAbs / MaxAbsReference;
}

public static class ParityRunner
{
    public static ParityResult Run(ParityOptions o, IProgress<string>? progress = null)
    {
        var batch = ParityBatch.Load(o.Batch);
        using var source = ModelSource.Resolve(o.Model, progress);
        var outputs = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        var work = Path.Combine(Path.GetTempPath(), "onnxlora-parity-" + Guid.NewGuid().ToString("N")[..12]);
        Onnx.Ir.ElementType computeType;
        try
        {
            computeType = RunBase(source, batch, work, o.Runtime, outputs, o.AttentionBlocks, o.Int4GroupBytes);
            if (o.Adapter is not null)
            {
                var adapter = PeftAdapter.Load(o.Adapter);
                RunAdapter(source, batch, adapter, o, work, outputs);
                if (o.Trajectory is not null)
                {
                    outputs["trajectory.losses"] = RunTrajectory(source, adapter, o, work, progress);
                }
            }
            else if (o.Trajectory is not null)
            {
                throw new BadInputException("--trajectory needs --adapter (the initial LoRA weights)");
            }
        }
        finally
        {
            Models.AtomicFolder.TryDelete(work);
        }
        if (o.Output is not null)
        {
            SafetensorsWriter.Write(o.Output,
                outputs.Select(kv => SafetensorsTensor.FromFloat32(kv.Key, kv.Value.Item1, kv.Value.Item2)).ToList(),
                new Dictionary<string, string> { ["producer"] = "onnxlora parity" });
        }
        var (comparisons, notCompared, noReference) = Compare(o, outputs);
        return new ParityResult(outputs, comparisons, notCompared, noReference, computeType);
    }

    private static Onnx.Ir.ElementType RunBase(ModelSource source, ParityBatch batch, string work, RuntimeOptions runtime,
        Dictionary<string, (float[], long[])> outputs, int attentionBlocks, long int4GroupBytes)
    {
        var graph = TrainingGraph.Build(ModelReader.Load(source.ModelPath), new TrainingGraphOptions { Lora = null, Training = false, OutputLogits = true, FullFineTune = false, AttentionBlocks = attentionBlocks, Int4GroupBytes = int4GroupBytes });
        var path = Path.Combine(work, "base", "eval_model.onnx");
        ArtifactWriter.Save(graph.Model, path);
        var session = SessionFactory.Create(path, runtime);
        try
        {
            using var inputs = Inputs(batch);
            using var run = new RunOptions();
            using var results = session.Run(run, inputs.Names, inputs.Values, ["loss", "logits"]);
            AddLogitsAndLoss("base", batch, results, outputs);
        }
        finally
        {
            SessionFactory.Release(session, runtime);
        }
        return graph.ComputeType;
    }

    private static void RunAdapter(ModelSource source, ParityBatch batch, PeftAdapter adapter, ParityOptions o, string work,
        Dictionary<string, (float[], long[])> outputs)
    {
        var graph = TrainingGraph.Build(ModelReader.Load(source.ModelPath),
            new TrainingGraphOptions { Lora = adapter.Settings, Training = true, OutputLogits = true, AttentionBlocks = o.AttentionBlocks, Int4GroupBytes = o.Int4GroupBytes });
        adapter.CheckAgainst(graph.Targets, o.Adapter!);
        var path = Path.Combine(work, "lora", "training_model.onnx");
        ArtifactWriter.Save(graph.Model, path);
        var session = SessionFactory.Create(path, o.Runtime);
        using var inputs = Inputs(batch);
        var names = new List<string>(inputs.Names);
        var values = new List<OrtValue>(inputs.Values);
        try
        {
            foreach (var p in graph.Parameters)
            {
                var (data, shape) = adapter.Tensors[p.Name];
                names.Add(p.Name);
                values.Add(OrtTensors.Float(data, shape));
            }
            var outNames = new List<string> { "loss", "logits" };
            outNames.AddRange(graph.Parameters.Select(p => graph.Gradients[p.Name]));
            using var run = new RunOptions();
            using var results = session.Run(run, names, values, outNames);
            AddLogitsAndLoss("lora", batch, results, outputs);
            for (int i = 0; i < graph.Parameters.Count; i++)
            {
                var r = results[2 + i];
                outputs["grad." + graph.Parameters[i].Name] = (OrtTensors.ToFloats(r), OrtTensors.Shape(r));
            }
        }
        finally
        {
            foreach (var v in values.Skip(inputs.Values.Count))
            {
                v.Dispose();
            }
            SessionFactory.Release(session, o.Runtime);
        }
    }

    private static (float[], long[]) RunTrajectory(ModelSource source, PeftAdapter adapter, ParityOptions o, string work, IProgress<string>? progress)
    {
        var traj = TrajectoryFile.Load(o.Trajectory!);
        var dir = Path.Combine(work, "trajectory");
        var options = new TrainingGraphOptions
        {
            Lora = adapter.Settings with { Dropout = 0 }, LossChunks = o.LossChunks, RecomputeLogits = o.RecomputeLogits, Device = o.Runtime.Device,
            LossScaling = o.LossScale is not null, AttentionBlocks = o.AttentionBlocks, Int4GroupBytes = o.Int4GroupBytes,
        };
        var artifacts = TrainingArtifacts.Generate(source.ModelPath, dir, options, traj.AdamW);
        adapter.CheckAgainst(artifacts.Targets, o.Adapter!);
        var initial = artifacts.Parameters.ToDictionary(p => p.Name, p => adapter.Tensors[p.Name].Data);
        using var engine = new StepEngine(artifacts, initial, o.Runtime, o.LossScale is { } scale ? new DynamicLossScaler(initialScale: scale) : null);
        var losses = new float[traj.Steps.Count];
        for (int s = 0; s < traj.Steps.Count; s++)
        {
            var step = traj.Steps[s];
            using var batch = new BatchTensors(step.InputIds, step.AttentionMask, step.Labels, step.Batch, step.Time);
            losses[s] = engine.ForwardBackward(batch);
            engine.OptimizerStep(traj.LearningRate);
            progress?.Report($"trajectory step {s + 1}/{traj.Steps.Count} loss {losses[s]:F6}");
        }
        return (losses, [losses.Length]);
    }

    private static BatchTensors Inputs(ParityBatch b) =>
        new(b.InputIds, b.AttentionMask, b.Labels ?? b.InputIds, b.Batch, b.Time);

    private static void AddLogitsAndLoss(string prefix, ParityBatch batch, IDisposableReadOnlyCollection<OrtValue> results,
        Dictionary<string, (float[], long[])> outputs)
    {
        if (batch.Labels is not null)
        {
            outputs[prefix + ".loss"] = (OrtTensors.ToFloats(results[0]), []);
        }
        outputs[prefix + ".logits"] = (OrtTensors.ToFloats(results[1]), OrtTensors.Shape(results[1]));
    }

    private static (List<ParityComparison> Compared, List<ParityGap> NotCompared, List<ParityGap> NoReference) Compare(
        ParityOptions o, Dictionary<string, (float[] Data, long[] Shape)> outputs)
    {
        var list = new List<ParityComparison>();
        var noReference = new List<ParityGap>();
        using var reference = SafetensorsFile.Open(o.Batch);
        foreach (var (name, (data, _)) in outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            // With explicit --reference-key pairs only those pairs are compared (e.g. a merged model has no reference loss).
            if (o.ReferenceKeys.Count > 0 && !o.ReferenceKeys.ContainsKey(name))
            {
                noReference.Add(new ParityGap(name, "not among the --reference-key pairs"));
                continue;
            }
            var refName = o.ReferenceKeys.TryGetValue(name, out var mapped) ? mapped : name;
            if (name == "trajectory.losses" && o.Trajectory is not null)
            {
                var traj = TrajectoryFile.Load(o.Trajectory);
                list.Add(Diff(name, o.Trajectory + ":losses", data, traj.Losses));
                continue;
            }
            if (!reference.Contains(refName))
            {
                noReference.Add(new ParityGap(name, $"{Path.GetFileName(o.Batch)} has no tensor '{refName}'"));
                continue;
            }
            var refData = reference.ReadAsFloat32(refName);
            if (refData.Length != data.Length)
            {
                throw new InvalidDataException($"{o.Batch}: reference '{refName}' has {refData.Length} values, ours '{name}' has {data.Length}");
            }
            // Logits are compared at every position, pads included: a pad query that sees no key outputs zeros from attention
            // (SDPA, transformers 5), so its logits are defined, and the last pad's prediction of the first real token is in the loss.
            list.Add(Diff(name, refName, data, refData));
        }
        var compared = list.Select(c => c.Reference).ToHashSet(StringComparer.Ordinal);
        var notCompared = reference.Names
            .Where(n => !ParityBatch.InputNames.Contains(n) && !compared.Contains(n))
            .Order(StringComparer.Ordinal)
            .Select(n => new ParityGap(n, WhyNotCompared(n, o)))
            .ToList();
        return (list, notCompared, noReference);
    }

    /// <summary>Why the reference tensor <paramref name="name"/> was read by no comparison.</summary>
    private static string WhyNotCompared(string name, ParityOptions o)
    {
        var ours = o.ReferenceKeys.FirstOrDefault(kv => kv.Value == name).Key ?? name;
        if (o.ReferenceKeys.Count > 0 && !o.ReferenceKeys.Values.Contains(name))
        {
            return "not among the --reference-key pairs";
        }
        if (o.Adapter is null && (name.StartsWith("lora.", StringComparison.Ordinal) || name.StartsWith("grad.", StringComparison.Ordinal)))
        {
            return "no --adapter given";
        }
        if (name.StartsWith("merged.", StringComparison.Ordinal))
        {
            return "no merged model given (compare one with --model <merged> --reference-key base.logits=merged.logits)";
        }
        return $"no output of ours is named '{ours}'";
    }

    private static ParityComparison Diff(string name, string refName, float[] ours, float[] reference)
    {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            maxAbs = Math.Max(maxAbs, Math.Abs((double)ours[i] - reference[i]));
            if (double.IsNaN(ours[i]) != double.IsNaN(reference[i]))
            {
                maxAbs = double.PositiveInfinity;
            }
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return new ParityComparison(name, refName, maxAbs, maxRef);
    }
}
