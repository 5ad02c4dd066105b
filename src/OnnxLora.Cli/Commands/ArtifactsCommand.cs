// `onnxlora artifacts --model <dir> -o <dir>`: writes the training artifacts (training, eval,
// optimizer and accumulator graphs + artifacts.json) in ORT Training's layout, for reuse or inspection.
using System.CommandLine;
using System.Diagnostics;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Cli.Commands;

internal static class ArtifactsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ONNX/GenAI or Hugging Face model folder", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Artifacts folder", Required = true };
        var r = new Option<int>("--lora-r") { Description = "LoRA rank", DefaultValueFactory = _ => Peft.DefaultRank };
        var alpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => Peft.DefaultAlpha };
        var targets = new Option<string>("--targets") { Description = "Comma-separated modules or all-linear", DefaultValueFactory = _ => string.Join(",", Peft.DefaultTargets) };
        var full = new Option<bool>("--full-fine-tune") { Description = "Every weight trainable instead of LoRA" };
        var cmd = new Command("artifacts", "Generate training artifacts (training/eval/optimizer graphs) without training") { model, output, r, alpha, targets, full };
        cmd.SetAction(p => CliErrors.Run(() =>
        {
            var sw = Stopwatch.StartNew();
            using var source = ModelSource.Resolve(p.GetValue(model)!);
            var lora = new LoraSettings { Rank = p.GetValue(r), Alpha = p.GetValue(alpha), TargetModules = p.GetValue(targets)!.Split(',') };
            var a = TrainingArtifacts.Generate(source.ModelPath, p.GetValue(output)!,
                new TrainingGraphOptions { Lora = p.GetValue(full) ? null : lora, FullFineTune = p.GetValue(full) }, new AdamWOptions());
            Console.WriteLine($"{a.Parameters.Count} trainable tensors ({a.Parameters.Sum(x => x.ElementCount):N0} parameters) → {a.Dir} in {sw.Elapsed.TotalSeconds:F2}s");
            return 0;
        }));
        return cmd;
    }
}
