// `onnxlora quickstart`: the whole story on the embedded default — a tiny Llama made from nothing,
// LoRA-trained on the shipped pirate dataset, merged, and asked the same question before and after.
// It only strings library calls together; every step is also a command of its own.
using System.CommandLine;
using System.Diagnostics;
using OnnxLora.Inference;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;
using AtomicFolder = OnnxLora.Models.AtomicFolder;

namespace OnnxLora.Cli.Commands;

internal static class QuickstartCommand
{
    private const string Question = "What is the weather like in the harbor today?\n";

    public static Command Create()
    {
        var output = new Option<string>("--output", "-o") { Description = "Where to put the model, run and merged model", DefaultValueFactory = _ => "runs/quickstart" };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => 1000 };
        var cmd = new Command("quickstart", "Train a pirate-speaking chatbot adapter on the embedded tiny model, end to end") { output, steps };
        cmd.SetAction(r => CliErrors.Run(() => Run(Path.GetFullPath(r.GetValue(output)!), r.GetValue(steps))));
        return cmd;
    }

    private static int Run(string root, int steps)
    {
        var sw = Stopwatch.StartNew();
        var runtime = RuntimeEnvironment.Defaults();
        Directory.CreateDirectory(root);
        var model = Path.Combine(root, "model");
        Console.WriteLine("1/4 creating the embedded tiny Llama (random init, project tokenizer)...");
        InitModelCommand.Create("tiny", model, seed: 0, onnx: true);
        var data = EmbeddedDatasets.WritePirate(Path.Combine(root, "pirate.jsonl"));

        var greedy = new GenerationOptions { MaxNewTokens = 40 };
        Console.WriteLine($"2/4 before training, asked \"{Question.Trim()}\":");
        Console.WriteLine("    " + Answer(model, greedy, runtime));

        Console.WriteLine($"3/4 LoRA training on {data} ...");
        var run = Path.Combine(root, "run");
        AtomicFolder.TryDelete(run);
        var config = new TrainConfig
        {
            Model = model, Data = data, Output = run, ValSplit = 0.05, MaxSteps = steps, BatchSize = 8, MaxSeqLen = 128,
            Lr = 3e-3, Schedule = "cosine", WarmupSteps = 10, EvalEvery = 250, Seed = 0,
            Lora = new LoraConfig { R = 16, Alpha = 32 }, Runtime = runtime,
        };
        var reporter = new TrainReporter();
        var summary = new Trainer(config, run, reporter).Run();
        reporter.Finish();

        Console.WriteLine("4/4 merging the adapter into the base (no added latency) ...");
        var merged = Path.Combine(root, "merged");
        LoraFold.Merge(model, PeftAdapter.Load(summary.AdapterDir), merged);
        Console.WriteLine($"after training, asked \"{Question.Trim()}\":");
        Console.WriteLine("    " + Answer(merged, greedy, runtime));
        TrainReporter.PrintSummary(summary);
        Console.WriteLine($"merged model: {merged}");
        Console.WriteLine($"loss curve: {Path.Combine(run, Trainer.LossCurveFile)}");
        Console.WriteLine($"quickstart finished in {sw.Elapsed.TotalSeconds:F0}s");
        return 0;
    }

    private static string Answer(string modelDir, GenerationOptions o, RuntimeOptions runtime)
    {
        using var g = new GenAiGenerator(modelDir, runtime);
        return string.Concat(g.GenerateText(Question, o)).Replace("\n", " ").Trim();
    }
}
