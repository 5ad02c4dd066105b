// `onnxlora bench-decode --model <onnx-dir> --adapter <peft-dir> [--int4]`: GenAI CPU decode tokens/s for base,
// merged, base + hot-swapped adapter (adapter-ready model) and optionally merged int4, with ratios to base.
using System.CommandLine;
using System.Globalization;
using OnnxLora.Inference;

namespace OnnxLora.Cli.Commands;

internal static class BenchDecodeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ORT GenAI model folder", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder", Required = true };
        var promptTokens = new Option<int>("--prompt-tokens") { DefaultValueFactory = _ => 16 };
        var newTokens = new Option<int>("--tokens") { Description = "Tokens decoded per run", DefaultValueFactory = _ => 128 };
        var repeats = new Option<int>("--repeats") { DefaultValueFactory = _ => 5 };
        var int4 = new Option<bool>("--int4") { Description = "Also time the adapter merged into int4 MatMulNBits (merge --quantize int4 defaults)" };
        var cmd = new Command("bench-decode", "Decode tokens/s: base vs merged vs hot-swapped adapter (vs merged int4)")
            { model, adapter, promptTokens, newTokens, repeats, int4 };
        var runtime = RuntimeArgs.AddTo(cmd, device: false);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var work = Path.Combine(Path.GetTempPath(), "onnxlora-bench-" + Guid.NewGuid().ToString("N")[..12]);
            try
            {
                var rates = DecodeBenchmark.Run(r.GetValue(model)!, r.GetValue(adapter)!, work, r.GetValue(promptTokens), r.GetValue(newTokens),
                    r.GetValue(repeats), new SyncProgress(m => Console.Error.WriteLine("  " + m)), runtime.Resolve(r),
                    r.GetValue(int4) ? new Onnx.Quantization.Int4QuantizeOptions { PadPartialBlocks = true } : null);
                double baseline = rates[0].TokensPerSecond, bestBaseline = rates[0].BestTokensPerSecond;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{"",-28} {"median",10} tok/s  {"× base",7}  {"best",10} tok/s  {"× base",7}   ({rates[0].Runs} runs of {rates[0].Tokens} tokens each)"));
                foreach (var x in rates)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{x.Name,-28} {x.TokensPerSecond,10:F1} tok/s  {x.TokensPerSecond / baseline,6:F2}×  {x.BestTokensPerSecond,10:F1} tok/s  {x.BestTokensPerSecond / bestBaseline,6:F2}×"));
                }
                return 0;
            }
            finally
            {
                Models.AtomicFolder.TryDelete(work);
            }
        }));
        return cmd;
    }
}
