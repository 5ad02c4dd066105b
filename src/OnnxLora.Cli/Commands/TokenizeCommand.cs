// `onnxlora tokenize --model <dir> --data <file.jsonl>`: shows what training would see for each example, using only
// the folder's tokenizer files and chat template: on a terminal the text with the counted part highlighted and its
// token counts; with --json one {"input_ids", "labels"} line per example (-100 = not counted). No math here.
using System.CommandLine;
using System.Text.Json;
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;
using OnnxLora.Training.Data;

namespace OnnxLora.Cli.Commands;

internal static class TokenizeCommand
{
    private const string Highlight = "\u001b[1;32m";
    private const string Reset = "\u001b[0m";
    private const int NoTruncation = int.MaxValue;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (only its tokenizer files and chat template are read)", Required = true };
        var data = new Option<string>("--data") { Description = "JSONL dataset (text | prompt/completion | messages)", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Show the first N examples only" };
        var json = new Option<bool>("--json") { Description = "One {\"input_ids\":[…],\"labels\":[…]} line per example (-100 = not counted)" };
        var format = new Option<string>("--format") { Description = "auto|text|prompt_completion|messages", DefaultValueFactory = _ => "auto" };
        var template = new Option<string?>("--chat-template") { Description = "messages data: a named template of the model, chatml|llama2|llama3|zephyr|plain for models without one, or a .jinja file (default: the model's own)" };
        var maxSeqLen = new Option<int?>("--max-seq-len") { Description = "Cut examples as training would (default: no cut)" };
        var cmd = new Command("tokenize", "Show each example's tokens and which of them the loss counts, as training would build them")
            { model, data, limit, json, format, template, maxSeqLen };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            string dir = r.GetValue(model)!;
            var raw = JsonlDatasetReader.ReadFile(r.GetValue(data)!, ParseFormat(r.GetValue(format)!));
            var tokenizer = TextTokenizer.Load(dir);
            var chat = raw.Any(x => x.Format == DatasetFormat.Messages)
                ? new ChatTokenizer(ChatTemplateRenderer.ForModel(dir, r.GetValue(template)), tokenizer)
                : null;
            var et = new ExampleTokenizer(tokenizer, r.GetValue(maxSeqLen) ?? NoTruncation, chat);
            bool asJson = r.GetValue(json);
            bool color = !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
            int shown = 0, empty = 0, uncounted = 0, truncated = 0;
            long tokens = 0, counted = 0;
            foreach (var example in raw.Take(r.GetValue(limit) ?? int.MaxValue))
            {
                var result = et.Tokenize(example);
                shown++;
                int n = result.Example.Length;
                int c = result.Example.Labels.Count(l => l != TokenizedExample.IgnoreIndex);
                tokens += n;
                counted += c;
                empty += result.Status == ExampleStatus.Empty ? 1 : 0;
                uncounted += result.Status == ExampleStatus.NoCountedToken ? 1 : 0;
                truncated += result.Truncated ? 1 : 0;
                if (asJson)
                {
                    Console.WriteLine(JsonSerializer.Serialize(new { input_ids = result.Example.InputIds, labels = result.Example.Labels }));
                    continue;
                }
                Console.WriteLine($"── {example.Source}");
                foreach (var (text, isCounted) in CountedText.Pieces(tokenizer, result.Example))
                {
                    Console.Write(!isCounted ? text : color ? Highlight + text + Reset : "⟦" + text + "⟧");
                }
                string note = result.Status switch
                {
                    ExampleStatus.Empty => "  (dropped: empty)",
                    ExampleStatus.NoCountedToken => "  (dropped: no counted token)",
                    _ => result.Truncated ? "  (truncated)" : "",
                };
                Console.WriteLine();
                Console.WriteLine($"   {n} tokens, {c} counted{note}");
            }
            Console.Error.WriteLine($"{shown} examples, {tokens} tokens, {counted} counted; dropped {empty} empty and {uncounted} with no counted token" +
                (truncated > 0 ? $"; {truncated} truncated" : "") + (asJson || color ? "" : "  (counted text is shown between ⟦ ⟧)"));
            return 0;
        }));
        return cmd;
    }

    private static DatasetFormat ParseFormat(string f) => f switch
    {
        "auto" => DatasetFormat.Auto,
        "text" => DatasetFormat.Text,
        "prompt_completion" => DatasetFormat.PromptCompletion,
        "messages" => DatasetFormat.Messages,
        _ => throw new BadInputException($"--format: unknown layout '{f}' (auto, text, prompt_completion, messages)"),
    };
}
