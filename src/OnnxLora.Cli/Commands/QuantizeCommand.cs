// `onnxlora quantize --model <onnx-dir> -o <out> [--block-size 32] [--accuracy-level 4] [--asymmetric]`: writes the
// model's linear weights as int4 MatMulNBits as the GenAI builder's `-p int4` would (an int4 base for QLoRA or the edge).
using System.CommandLine;
using OnnxLora.Rewrite.Fold;

namespace OnnxLora.Cli.Commands;

internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ORT GenAI / ONNX model folder (model.onnx inside), float32 or float16", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (complete GenAI folder)", Required = true };
        var cmd = new Command("quantize", "Quantize every MatMul weight (projections, lm_head) to int4 MatMulNBits, as the GenAI builder does") { model, output };
        var int4 = Int4Args.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var options = int4.Options(r);
            var outDir = r.GetValue(output)!;
            var report = Int4Merge.Run(r.GetValue(model)!, null, outDir, options,
                progress: new SyncProgress(m => Console.Error.WriteLine("  " + m)));
            Int4Args.Print(report, options, outDir, sw.Elapsed);
            return 0;
        }));
        return cmd;
    }
}
