// `onnxlora merge --model <onnx-dir> --adapter <peft-dir> -o <out> [--unmerge]`: folds a PEFT adapter
// into a model folder (GenAI/builder or torch.onnx export; or takes it back out) and reports the adapter's
// size against the model's. The output is the same kind of folder as the input.
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
        var cmd = new Command("merge", "Fold a LoRA adapter into the model's weights (W += scaling·(B·A)ᵀ)") { model, adapter, output, unmerge };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var adapterDir = r.GetValue(adapter)!;
            var outDir = r.GetValue(output)!;
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
