// Generates the training artifacts in ORT Training's layout: training_model.onnx (loss +
// gradients), eval_model.onnx (loss + logits), optimizer_model.onnx (AdamW), accumulate_model.onnx,
// plus artifacts.json describing the trainable parameters. Base weights are linked, not copied.
using System.Text.Json;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.IO;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Artifacts;

public sealed record TrainingArtifacts(string Dir, IReadOnlyList<TrainableParameter> Parameters, IReadOnlyList<LoraTarget> Targets)
{
    public const string TrainingModel = "training_model.onnx";
    public const string EvalModel = "eval_model.onnx";
    public const string OptimizerModel = "optimizer_model.onnx";
    public const string AccumulateModel = "accumulate_model.onnx";
    public const string FlatOptimizerModel = "optimizer_flat_model.onnx";
    public const string FlatAccumulateModel = "accumulate_flat_model.onnx";
    public const string Manifest = "artifacts.json";

    public string TrainingModelPath => Path.Combine(Dir, TrainingModel);
    public string EvalModelPath => Path.Combine(Dir, EvalModel);
    public string OptimizerModelPath => Path.Combine(Dir, OptimizerModel);
    public string AccumulateModelPath => Path.Combine(Dir, AccumulateModel);

    /// <summary>The same AdamW step over all parameters laid end to end in one vector (the device engine's state).</summary>
    public string FlatOptimizerModelPath => Path.Combine(Dir, FlatOptimizerModel);

    public string FlatAccumulateModelPath => Path.Combine(Dir, FlatAccumulateModel);

    public static TrainingArtifacts Generate(string modelPath, string dir, TrainingGraphOptions options, AdamWOptions adamW)
    {
        Directory.CreateDirectory(dir);
        var train = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = true, OutputLogits = false });
        ArtifactWriter.Save(train.Model, Path.Combine(dir, TrainingModel));
        // loss only: the evaluator reads nothing else, and without a logits output the loss can be chunked
        var eval = TrainingGraph.Build(ModelReader.Load(modelPath), options with { Training = false, OutputLogits = false });
        ArtifactWriter.Save(eval.Model, Path.Combine(dir, EvalModel));
        var specs = train.Parameters.Select(p => new ParameterSpec(p.Name, p.Shape)).ToList();
        ArtifactWriter.Save(OptimizerGraphBuilder.Build(specs, adamW), Path.Combine(dir, OptimizerModel));
        ArtifactWriter.Save(OptimizerGraphBuilder.BuildAccumulate(specs), Path.Combine(dir, AccumulateModel));
        // One vector instead of one tensor per parameter: ~20 optimizer nodes instead of ~20 per LoRA matrix
        // (4,000+ tiny kernels per step at Llama-3.2-1B, where launch overhead, not arithmetic, sets the time).
        var flat = Engine.FlatLayout.Specs(train.Parameters);
        ArtifactWriter.Save(OptimizerGraphBuilder.Build(flat, adamW), Path.Combine(dir, FlatOptimizerModel));
        ArtifactWriter.Save(OptimizerGraphBuilder.BuildAccumulate(flat), Path.Combine(dir, FlatAccumulateModel));
        var manifest = new
        {
            base_model = Path.GetFullPath(modelPath),
            parameters = train.Parameters.Select(p => new { name = p.Name, shape = p.Shape }),
            lora = options.Lora,
            full_fine_tune = options.FullFineTune,
        };
        File.WriteAllText(Path.Combine(dir, Manifest), JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        return new TrainingArtifacts(dir, train.Parameters, train.Targets);
    }
}
