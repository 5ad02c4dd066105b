// `onnxlora generate --model <dir> --prompt "..."`: streams generated text from an ORT GenAI folder,
// optionally with .onnx_adapter files loaded (--adapter name=path) and one activated (--adapter-name).
// --engine ort runs our own ORT loop (OrtDecoder) instead, on --device cpu or cuda; it is the default for a
// folder without genai_config.json (a torch.onnx/optimum export) and takes one adapter.
// The prompt is raw text (as prompt/completion data is trained); with --chat it is a user message rendered by the
// model's chat template with add_generation_prompt=True, exactly as `chat` and messages training data are.
using System.CommandLine;
using OnnxLora.Inference;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli.Commands;

internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var asChat = new Option<bool>("--chat") { Description = "Send the prompt as a user message through the model's chat template" };
        var system = new Option<string?>("--system") { Description = "System message (with --chat)" };
        var template = new Option<string?>("--chat-template") { Description = "With --chat: a named template of the model, chatml|llama2|llama3|zephyr|plain, or a .jinja file" };
        var cmd = new Command("generate", "Generate text (ORT GenAI on CPU, or --engine ort on CPU/CUDA), streaming tokens") { prompt, asChat, system, template };
        var opts = GenerationArgs.AddTo(cmd);
        cmd.Options.Add(opts.Engine);
        var runtimeArgs = RuntimeArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var engine = r.GetValue(opts.Engine);
            var runtime = runtimeArgs.Resolve(r);
            int[]? chatPrompt = null;
            if (r.GetValue(asChat))
            {
                string model = opts.Model(r);
                var chat = new ChatTokenizer(ChatTemplateRenderer.ForModel(model, r.GetValue(template)), TextTokenizer.Load(model));
                var messages = new List<ChatMessage>();
                if (r.GetValue(system) is { } s)
                {
                    messages.Add(new ChatMessage("system", s));
                }
                messages.Add(new ChatMessage("user", r.GetValue(prompt)!));
                chatPrompt = [.. chat.EncodePrompt(messages)];
            }
            if (engine == "auto")
            {
                var dir = File.Exists(opts.Model(r)) ? Path.GetDirectoryName(Path.GetFullPath(opts.Model(r)))! : opts.Model(r);
                engine = File.Exists(Path.Combine(dir, Models.GenAiFolder.GenAiConfigFile)) ? "genai" : "ort";
            }
            if (engine == "ort")
            {
                GenerateOrt(opts.Model(r), runtime, opts.SingleAdapterFile(r), r.GetValue(prompt)!, chatPrompt, opts.Options(r) with { Adapter = null });
                return 0;
            }
            if (engine != "genai")
            {
                throw new BadInputException($"unknown --engine '{engine}' (auto, genai, ort)");
            }
            using var gen = opts.CreateGenerator(r, runtime); // refuses --device cuda: GenAI runs on CPU here
            var pieces = chatPrompt is null ? gen.GenerateText(r.GetValue(prompt)!, opts.Options(r)) : gen.GenerateText(chatPrompt, opts.Options(r));
            foreach (var piece in pieces)
            {
                Console.Write(piece);
                Console.Out.Flush();
            }
            Console.WriteLine();
            return 0;
        }));
        return cmd;
    }

    private static void GenerateOrt(string model, RuntimeOptions runtime, string? adapter, string prompt, int[]? chatPrompt, GenerationOptions o)
    {
        var tokenizer = TextTokenizer.Load(File.Exists(model) ? Path.GetDirectoryName(Path.GetFullPath(model))! : model);
        using var decoder = new OrtDecoder(model, runtime, adapter);
        var produced = new List<int>();
        string shown = "";
        foreach (var t in decoder.GenerateTokens(chatPrompt ?? [.. tokenizer.Encode(prompt)], o))
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
