// `onnxlora init-model --preset tiny -o <dir>`: a random-init Llama (HF layout + the project's own
// tokenizer), made from nothing downloaded; `--onnx` also imports it into the GenAI layout.
using System.CommandLine;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Cli.Commands;

internal static class InitModelCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"One of: {string.Join(", ", RandomLlama.Presets)}", DefaultValueFactory = _ => "tiny" };
        var output = new Option<string>("--output", "-o") { Description = "Output folder", Required = true };
        var seed = new Option<int>("--seed") { Description = "Initialisation seed", DefaultValueFactory = _ => 0 };
        var onnx = new Option<bool>("--onnx") { Description = "Write the ORT GenAI layout instead of a Hugging Face checkpoint" };
        var cmd = new Command("init-model", "Create a random-initialised Llama with the embedded tokenizer") { preset, output, seed, onnx };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var dir = Create(r.GetValue(preset)!, r.GetValue(output)!, r.GetValue(seed), r.GetValue(onnx));
            Console.WriteLine($"wrote {r.GetValue(preset)} model to {dir}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Writes the preset as a HF folder (or, with <paramref name="onnx"/>, imports it into a GenAI folder).</summary>
    public static string Create(string preset, string output, int seed, bool onnx)
    {
        var config = RandomLlama.Preset(preset);
        if (!onnx)
        {
            var temp = AtomicFolder.CreateTempBeside(output);
            RandomLlama.Write(temp, config, seed);
            EmbeddedTokenizer.WriteTo(temp);
            AtomicFolder.Replace(temp, output);
            return output;
        }
        var hf = Path.Combine(Path.GetTempPath(), "onnxlora-init-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            RandomLlama.Write(hf, config, seed);
            EmbeddedTokenizer.WriteTo(hf);
            HfImporter.Import(hf, output);
        }
        finally
        {
            AtomicFolder.TryDelete(hf);
        }
        return output;
    }
}
