// Generates the training artifacts in ORT Training's layout: training_model.onnx (loss + gradients per
// parameter), eval_model.onnx (loss only), optimizer_model.onnx (AdamW) and accumulate_model.onnx (gradient
// sum), the last two over FlatLayout segments rather than per parameter, plus artifacts.json describing the
// trainable parameters. Base weights are linked, not copied. It writes no checkpoint; the trainer does.
using System.Text.Json;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Artifacts;

/// <param name="MaxSegmentElements">the FlatLayout segment size the optimizer and accumulator graphs were built with.</param>
public sealed record TrainingArtifacts(string Dir, IReadOnlyList<TrainableParameter> Parameters, IReadOnlyList<LoraTarget> Targets,
    long MaxSegmentElements)
{
    public const string TrainingModel = "training_model.onnx";
    public const string EvalModel = "eval_model.onnx";
    /// <summary>One AdamW step over the parameters laid end to end in FlatLayout segments (the step engine's state).</summary>
    public const string OptimizerModel = "optimizer_model.onnx";

    /// <summary>Gradient accumulation over the same segments.</summary>
    public const string AccumulateModel = "accumulate_model.onnx";
    public const string Manifest = "artifacts.json";

    public string TrainingModelPath => Path.Combine(Dir, TrainingModel);
    public string EvalModelPath => Path.Combine(Dir, EvalModel);
    public string OptimizerModelPath => Path.Combine(Dir, OptimizerModel);
    public string AccumulateModelPath => Path.Combine(Dir, AccumulateModel);

    /// <summary>The flat segments the optimizer and accumulator graphs take (the step engine's state layout).</summary>
    public IReadOnlyList<Engine.FlatSegment> Segments => Engine.FlatLayout.Of(Parameters, MaxSegmentElements);

    public static TrainingArtifacts Generate(string modelPath, string dir, TrainingGraphOptions options, AdamWOptions adamW)
    {
        Directory.CreateDirectory(dir);
        var train = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = true, OutputLogits = false });
        ArtifactWriter.Save(train.Model, Path.Combine(dir, TrainingModel));
        // loss only: the evaluator reads nothing else, and without a logits output the loss can be chunked
        var eval = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = false, OutputLogits = false });
        ArtifactWriter.Save(eval.Model, Path.Combine(dir, EvalModel));
        // One vector instead of one tensor per parameter: ~20 optimizer nodes instead of ~20 per LoRA matrix
        // (4,000+ tiny kernels per step at Llama-3.2-1B, where launch overhead, not arithmetic, sets the time).
        long segment = Engine.FlatLayout.MaxSegmentElementsFor(options.Device);
        var flat = Engine.FlatLayout.Specs(Engine.FlatLayout.Of(train.Parameters, segment));
        ArtifactWriter.Save(OptimizerGraphBuilder.Build(flat, adamW), Path.Combine(dir, OptimizerModel));
        ArtifactWriter.Save(OptimizerGraphBuilder.BuildAccumulate(flat), Path.Combine(dir, AccumulateModel));
        var manifest = new
        {
            base_model = Path.GetFullPath(modelPath),
            parameters = train.Parameters.Select(p => new { name = p.Name, shape = p.Shape }),
            lora = options.Lora,
            full_fine_tune = options.FullFineTune,
            max_segment_elements = segment,
        };
        File.WriteAllText(Path.Combine(dir, Manifest), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        return new TrainingArtifacts(dir, train.Parameters, train.Targets, segment);
    }
}
