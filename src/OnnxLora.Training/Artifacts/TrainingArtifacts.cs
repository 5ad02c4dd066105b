// Generates the training artifacts in ORT Training's layout: training_model.onnx (loss + gradients per
// parameter), eval_model.onnx (loss only), and the chunked AdamW pair over FlatLayout segments —
// grad_norm_model.onnx (global norm, finite flag, clip coefficient over every gradient chunk) and
// optimizer_model.onnx (one chunk's update) — plus accumulate_model.onnx (one chunk's gradient sum) and
// artifacts.json describing the trainable parameters and layout. Base weights are linked, not copied. It writes
// no checkpoint; the trainer does.
using System.Text.Json;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Artifacts;

/// <param name="MaxSegmentElements">the FlatLayout segment size of the step engine's state.</param>
/// <param name="ChunkElements">the largest chunk the optimizer and accumulator graphs update per run.</param>
/// <param name="WeightViews">frozen weights are read through views (TrainingGraphOptions.WeightViews): one copy of them.</param>
public sealed record TrainingArtifacts(string Dir, IReadOnlyList<TrainableParameter> Parameters, IReadOnlyList<LoraTarget> Targets,
    long MaxSegmentElements, long ChunkElements, bool WeightViews)
{
    public const string TrainingModel = "training_model.onnx";
    public const string EvalModel = "eval_model.onnx";
    /// <summary>AdamW on one chunk of the flat segments (the step engine's state), run chunk by chunk in place.</summary>
    public const string OptimizerModel = "optimizer_model.onnx";

    /// <summary>The global gradient norm, finite flag and clip coefficient over every gradient chunk (before the updates).</summary>
    public const string GradNormModel = "grad_norm_model.onnx";

    /// <summary>Gradient accumulation on one chunk.</summary>
    public const string AccumulateModel = "accumulate_model.onnx";
    public const string Manifest = "artifacts.json";

    public string TrainingModelPath => Path.Combine(Dir, TrainingModel);
    public string EvalModelPath => Path.Combine(Dir, EvalModel);
    public string OptimizerModelPath => Path.Combine(Dir, OptimizerModel);
    public string GradNormModelPath => Path.Combine(Dir, GradNormModel);
    public string AccumulateModelPath => Path.Combine(Dir, AccumulateModel);

    /// <summary>The flat segments of the step engine's state.</summary>
    public IReadOnlyList<Engine.FlatSegment> Segments => Engine.FlatLayout.Of(Parameters, MaxSegmentElements);

    /// <summary>The chunks the optimizer updates one run at a time (the norm graph's inputs).</summary>
    public IReadOnlyList<Engine.FlatChunk> Chunks => Engine.FlatLayout.Chunks(Segments, ChunkElements);

    public static TrainingArtifacts Generate(string modelPath, string dir, TrainingGraphOptions options, AdamWOptions adamW)
    {
        Directory.CreateDirectory(dir);
        var train = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = true, OutputLogits = false });
        ArtifactWriter.Save(train.Model, Path.Combine(dir, TrainingModel));
        // loss only: the evaluator reads nothing else, and without a logits output the loss can be chunked
        var eval = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = false, OutputLogits = false });
        ArtifactWriter.Save(eval.Model, Path.Combine(dir, EvalModel));
        // One vector instead of one tensor per parameter: ~20 optimizer nodes per segment chunk instead of ~20 per
        // LoRA matrix (4,000+ tiny kernels per step at Llama-3.2-1B, where launch overhead, not arithmetic, sets the time).
        long segment = Engine.FlatLayout.MaxSegmentElementsFor(options.Device);
        long chunk = Engine.FlatLayout.ChunkElementsFor(options.Device);
        var chunks = Engine.FlatLayout.Chunks(Engine.FlatLayout.Of(train.Parameters, segment), chunk);
        ArtifactWriter.Save(ChunkedOptimizerGraphs.BuildNorm(Engine.FlatLayout.Specs(chunks), adamW), Path.Combine(dir, GradNormModel));
        ArtifactWriter.Save(ChunkedOptimizerGraphs.BuildUpdate(adamW), Path.Combine(dir, OptimizerModel));
        ArtifactWriter.Save(ChunkedOptimizerGraphs.BuildAccumulate(), Path.Combine(dir, AccumulateModel));
        var manifest = new
        {
            base_model = Path.GetFullPath(modelPath),
            parameters = train.Parameters.Select(p => new { name = p.Name, shape = p.Shape }),
            lora = options.Lora,
            full_fine_tune = options.FullFineTune,
            max_segment_elements = segment,
            chunk_elements = chunk,
            weight_views = options.WeightViewsFor(train.ComputeType),
        };
        File.WriteAllText(Path.Combine(dir, Manifest), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        return new TrainingArtifacts(dir, train.Parameters, train.Targets, segment, chunk, options.WeightViewsFor(train.ComputeType));
    }
}
