// `onnxlora import <hf-dir> -o <out-dir> [--dtype]`: HF Llama checkpoint → ORT GenAI folder.
using System.CommandLine;
using OnnxLora.Models;
using OnnxLora.Models.Import;

namespace OnnxLora.Cli.Commands;

internal static class ImportCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("hf-dir") { Description = "Hugging Face LlamaForCausalLM folder (config.json + safetensors)" };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (ORT GenAI layout)", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Convert weights: float32, float16 or bfloat16 (default: keep the checkpoint's)" };
        var cmd = new Command("import", "Convert a Hugging Face Llama checkpoint into an ONNX model in the ORT GenAI layout") { source, output, dtype };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var t = r.GetValue(dtype) is { } d ? DTypes.Parse(d) : (Onnx.Ir.ElementType?)null;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var config = HfImporter.Import(r.GetValue(source)!, r.GetValue(output)!, t, new SyncProgress(m => Console.Error.WriteLine("  " + m)));
            Console.WriteLine($"imported {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize} → {r.GetValue(output)} in {sw.Elapsed.TotalSeconds:F1}s");
            return 0;
        }));
        return cmd;
    }
}
