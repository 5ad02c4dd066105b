// `onnxlora merge --model <onnx-dir> --adapter <peft-dir> -o <out> [--unmerge] [--quantize int4 ...]`: folds a PEFT
// adapter into a model folder (GenAI/builder or torch.onnx export; or takes it back out), optionally writing the
// result as int4 MatMulNBits, and reports the adapter's size against the model's. The output is the same kind of
// folder as the input.
using OnnxLora.Onnx;
using System.CommandLine;
using System.Globalization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Cli.Commands;

internal static class MergeCommand
{
    private const double Mb = 1024 * 1024;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder (GenAI/builder or torch.onnx export) or its decoder .onnx file", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder (adapter_config.json + adapter_model.safetensors)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output folder (complete GenAI folder)", Required = true };
        var unmerge = new Option<bool>("--unmerge") { Description = "Subtract the adapter instead of adding it" };
        var quantize = new Option<string?>("--quantize")
        {
            Description = "Quantize the merged weights: int4 (MatMulNBits, as the GenAI builder's -p int4; also onto an int4 base)",
        };
        var cmd = new Command("merge", "Fold a LoRA adapter into the model's weights (W += scaling·(B·A)ᵀ)") { model, adapter, output, unmerge, quantize };
        var int4 = Int4Args.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var adapterDir = r.GetValue(adapter)!;
            var outDir = r.GetValue(output)!;
            if (r.GetValue(quantize) is { } q)
            {
                if (q != "int4")
                {
                    throw new BadInputException($"--quantize {q}: unsupported (only int4, MatMulNBits bits=4)");
                }
                if (r.GetValue(unmerge))
                {
                    throw new BadInputException("--unmerge cannot be combined with --quantize (an int4 model cannot be unmerged exactly)");
                }
                var options = int4.Options(r);
                var source = Models.GenAiFolder.OpenPath(r.GetValue(model)!);
                var report = Int4Merge.Run(source.Dir, PeftAdapter.Load(adapterDir), outDir, options, adapterDir,
                    new SyncProgress(m => Console.Error.WriteLine("  " + m)), source.DecoderFile);
                Int4Args.Print(report, options, outDir, sw.Elapsed);
                return 0;
            }
            if (int4.AnyGiven(r))
            {
                throw new BadInputException("--block-size, --accuracy-level, --asymmetric, --pad-last-block, --quantize-embedding and --exclude need --quantize int4");
            }
            var peft = PeftAdapter.Load(adapterDir);
            var folder = Models.GenAiFolder.OpenPath(r.GetValue(model)!);
            var targets = LoraFold.Merge(folder.Dir, peft, outDir, r.GetValue(unmerge), adapterDir, folder.DecoderFile);
            double adapterMb = FileSize(Path.Combine(adapterDir, PeftAdapter.WeightsFile)) / Mb;
            double modelMb = Directory.EnumerateFiles(outDir, folder.DecoderFile + "*").Sum(FileSize) / Mb;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(r.GetValue(unmerge) ? "unmerged" : "merged")} {targets.Count} weights → {outDir} in {sw.Elapsed.TotalSeconds:F1}s"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"adapter {adapterMb:F2} MB vs model {modelMb:F2} MB ({modelMb / Math.Max(adapterMb, 1e-9):F1}×)"));
            return 0;
        }));
        return cmd;
    }

    private static long FileSize(string path) => new FileInfo(path).Length;
}
