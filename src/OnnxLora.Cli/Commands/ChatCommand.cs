// `onnxlora chat --model <dir>`: reads user lines from stdin, renders the conversation with the
// model's chat template (GenAI Tokenizer.ApplyChatTemplate) and streams each reply. Empty line or EOF ends.
using System.CommandLine;
using System.Text.Json.Nodes;

namespace OnnxLora.Cli.Commands;

internal static class ChatCommand
{
    public static Command Create()
    {
        var system = new Option<string?>("--system") { Description = "System message" };
        var cmd = new Command("chat", "Chat with a model (chat template applied), one user line at a time from stdin") { system };
        var opts = GenerationArgs.AddTo(cmd);
        var runtime = RuntimeArgs.AddTo(cmd, device: false);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var gen = opts.CreateGenerator(r, runtime.Resolve(r));
            var messages = new JsonArray();
            if (r.GetValue(system) is { } s)
            {
                messages.Add(new JsonObject { ["role"] = "system", ["content"] = s });
            }
            while (true)
            {
                Console.Error.Write("> ");
                var line = Console.In.ReadLine();
                if (string.IsNullOrWhiteSpace(line))
                {
                    return 0;
                }
                messages.Add(new JsonObject { ["role"] = "user", ["content"] = line });
                var prompt = gen.ApplyChatTemplate(messages.ToJsonString());
                var reply = new System.Text.StringBuilder();
                foreach (var piece in gen.GenerateText(prompt, opts.Options(r)))
                {
                    reply.Append(piece);
                    Console.Write(piece);
                    Console.Out.Flush();
                }
                Console.WriteLine();
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = reply.ToString() });
            }
        }));
        return cmd;
    }
}
