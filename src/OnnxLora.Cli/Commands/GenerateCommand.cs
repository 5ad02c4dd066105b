// `onnxlora generate --model <dir> --prompt "..."`: streams generated text from an ORT GenAI folder,
// optionally with .onnx_adapter files loaded (--adapter name=path) and one activated (--adapter-name).
using System.CommandLine;
using OnnxLora.Inference;

namespace OnnxLora.Cli.Commands;

internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var cmd = new Command("generate", "Generate text with ORT GenAI (CPU), streaming tokens") { prompt };
        var opts = GenerationArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var gen = opts.CreateGenerator(r);
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
}
