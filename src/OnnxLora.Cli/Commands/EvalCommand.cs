// `onnxlora eval --model <dir> [--adapter <peft-dir>] --data <jsonl> [--deployed]`: loss and perplexity, through the
// training-lowered graph or (--deployed) the folder's own decoder graph as GenAI runs it.
using OnnxLora.Onnx;
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
        var deployed = new Option<bool>("--deployed")
        {
            Description = "Run the folder's decoder graph as GenAI does (int4 MatMulNBits with its accuracy_level, KV-cache layout), one example at a time; no adapter",
        };
        var maxExamples = new Option<int?>("--max-examples") { Description = "Evaluate only the first N examples (--deployed)" };
        var cmd = new Command("eval", "Loss and perplexity of a model (optionally with an adapter) on a dataset")
            { model, adapter, data, maxSeqLen, batch, template, deployed, maxExamples };
        var runtime = RuntimeArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (!r.GetValue(deployed) && r.GetValue(maxExamples) is not null)
            {
                throw new BadInputException("--max-examples needs --deployed");
            }
            if (r.GetValue(deployed) && r.GetValue(adapter) is not null)
            {
                throw new BadInputException("--deployed evaluates the folder's graph as it is; merge the adapter first (onnxlora merge)");
            }
            var result = r.GetValue(deployed)
                ? DeployedEvaluation.Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(maxSeqLen), r.GetValue(template), r.GetValue(maxExamples),
                    runtime.Resolve(r))
                : DatasetEvaluation.Run(r.GetValue(model)!, r.GetValue(adapter), r.GetValue(data)!, r.GetValue(maxSeqLen),
                    r.GetValue(batch), r.GetValue(template), runtime.Resolve(r));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"loss {result.Loss:F4}  perplexity {Math.Exp(result.Loss):F2}  ({result.Examples} examples, {result.Tokens} scored tokens)"));
            return 0;
        }));
        return cmd;
    }
}
