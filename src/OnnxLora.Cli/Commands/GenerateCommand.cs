// `onnxlora generate --model <dir> --prompt "..."`: streams generated text from an ORT GenAI folder,
// optionally with .onnx_adapter files loaded (--adapter name=path) and one activated (--adapter-name).
// --engine ort runs our own ORT KV-cache loop (OrtDecoder) instead, on --device cpu or cuda.
using System.CommandLine;
using OnnxLora.Inference;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli.Commands;

internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var cmd = new Command("generate", "Generate text (ORT GenAI on CPU, or --engine ort on CPU/CUDA), streaming tokens") { prompt };
        var opts = GenerationArgs.AddTo(cmd);
        cmd.Options.Add(opts.Engine);
        var runtimeArgs = RuntimeArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var engine = r.GetValue(opts.Engine);
            var runtime = runtimeArgs.Resolve(r);
            if (engine == "ort")
            {
                if (opts.HasAdapters(r))
                {
                    throw new ArgumentException("--engine ort runs merged models only (merge the adapter first); --adapter needs --engine genai");
                }
                GenerateOrt(opts.Model(r), runtime, r.GetValue(prompt)!, opts.Options(r));
                return 0;
            }
            if (engine != "genai")
            {
                throw new ArgumentException($"unknown --engine '{engine}' (genai, ort)");
            }
            using var gen = opts.CreateGenerator(r, runtime); // refuses --device cuda: GenAI runs on CPU here
            foreach (var piece in gen.GenerateText(r.GetValue(prompt)!, opts.Options(r)))
            {
                Console.Write(piece);
                Console.Out.Flush();
            }
            Console.WriteLine();
            return 0;
        }));
        return cmd;
    }

    private static void GenerateOrt(string model, RuntimeOptions runtime, string prompt, GenerationOptions o)
    {
        var tokenizer = TextTokenizer.Load(model);
        using var decoder = new OrtDecoder(model, runtime);
        var produced = new List<int>();
        string shown = "";
        foreach (var t in decoder.GenerateTokens([.. tokenizer.Encode(prompt)], o))
        {
            produced.Add(t);
            var text = tokenizer.Decode(produced);
            if (text.Length > shown.Length && text.StartsWith(shown, StringComparison.Ordinal))
            {
                Console.Write(text[shown.Length..]);
                Console.Out.Flush();
                shown = text;
            }
        }
        Console.WriteLine();
    }
}
