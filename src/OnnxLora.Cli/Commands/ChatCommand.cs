// `onnxlora chat --model <dir>`: reads user lines from stdin, renders the conversation with the model's own chat
// template (add_generation_prompt=True; the same renderer and tokenizer as training data) and streams each reply.
// Empty line or EOF ends.
using System.CommandLine;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Cli.Commands;

internal static class ChatCommand
{
    public static Command Create()
    {
        var system = new Option<string?>("--system") { Description = "System message" };
        var template = new Option<string?>("--chat-template") { Description = "A named template of the model, chatml|llama2|llama3|zephyr|plain for models without one, or a .jinja file (default: the model's own)" };
        var cmd = new Command("chat", "Chat with a model (its chat template applied), one user line at a time from stdin") { system, template };
        var opts = GenerationArgs.AddTo(cmd);
        var runtime = RuntimeArgs.AddTo(cmd, device: false);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            string model = opts.Model(r);
            var chat = new ChatTokenizer(ChatTemplateRenderer.ForModel(model, r.GetValue(template)), TextTokenizer.Load(model));
            using var gen = opts.CreateGenerator(r, runtime.Resolve(r));
            var messages = new List<ChatMessage>();
            if (r.GetValue(system) is { } s)
            {
                messages.Add(new ChatMessage("system", s));
            }
            while (true)
            {
                Console.Error.Write("> ");
                var line = Console.In.ReadLine();
                if (string.IsNullOrWhiteSpace(line))
                {
                    return 0;
                }
                messages.Add(new ChatMessage("user", line));
                var prompt = chat.EncodePrompt(messages).ToArray();
                var reply = new System.Text.StringBuilder();
                foreach (var piece in gen.GenerateText(prompt, opts.Options(r)))
                {
                    reply.Append(piece);
                    Console.Write(piece);
                    Console.Out.Flush();
                }
                Console.WriteLine();
                messages.Add(new ChatMessage("assistant", reply.ToString()));
            }
        }));
        return cmd;
    }
}
