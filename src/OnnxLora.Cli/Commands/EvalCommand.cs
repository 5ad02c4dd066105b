// `onnxlora eval --model <dir> [--adapter <peft-dir>] --data <jsonl>`: loss and perplexity.
using System.CommandLine;
using System.Globalization;
using OnnxLora.Training.Run;

namespace OnnxLora.Cli.Commands;

internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ONNX/GenAI or Hugging Face model folder", Required = true };
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder to evaluate on top of the base" };
        var data = new Option<string>("--data") { Description = "JSONL dataset (text | prompt/completion | messages)", Required = true };
        var maxSeqLen = new Option<int>("--max-seq-len") { Description = "Truncate to this many tokens", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 8 };
        var template = new Option<string?>("--chat-template") { Description = "messages data: a named template of the model, chatml|llama2|llama3|zephyr|plain for models without one, or a .jinja file (default: the model's own)" };
        var cmd = new Command("eval", "Loss and perplexity of a model (optionally with an adapter) on a dataset")
            { model, adapter, data, maxSeqLen, batch, template };
        var runtime = RuntimeArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var result = DatasetEvaluation.Run(r.GetValue(model)!, r.GetValue(adapter), r.GetValue(data)!, r.GetValue(maxSeqLen),
                r.GetValue(batch), r.GetValue(template), runtime.Resolve(r));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"loss {result.Loss:F4}  perplexity {Math.Exp(result.Loss):F2}  ({result.Examples} examples, {result.Tokens} scored tokens)"));
            return 0;
        }));
        return cmd;
    }
}
