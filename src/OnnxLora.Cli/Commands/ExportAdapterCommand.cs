// `onnxlora export-adapter --model <onnx-dir> --adapter <peft-dir> -o <file.onnx_adapter> [--ready-model <dir>]`:
// writes ORT's multi-LoRA adapter file and, on request, the adapter-ready model it plugs into.
using System.CommandLine;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Cli.Commands;

internal static class ExportAdapterCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Base model folder the adapter belongs to (GenAI/builder or torch.onnx export)", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output .onnx_adapter file", Required = true };
        var ready = new Option<string?>("--ready-model") { Description = "Also write the adapter-ready model (A/B as overridable inputs) here" };
        var cmd = new Command("export-adapter", "Write a PEFT adapter as an ORT .onnx_adapter (multi-LoRA)") { model, adapter, output, ready };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var dir = r.GetValue(adapter)!;
            var peft = PeftAdapter.Load(dir);
            var targets = AdapterExport.WriteOnnxAdapter(peft, r.GetValue(model)!, r.GetValue(output)!, dir);
            Console.WriteLine($"wrote {targets.Count} targets → {r.GetValue(output)}");
            if (r.GetValue(ready) is { } readyDir)
            {
                AdapterReadyModel.Build(r.GetValue(model)!, peft.Settings, readyDir);
                Console.WriteLine($"adapter-ready model → {readyDir}");
            }
            return 0;
        }));
        return cmd;
    }
}
