// The `onnxlora` command: parses arguments and calls the library. It holds no math and no graph
// code; every failure the library reports as bad input becomes one line on stderr and exit 1.
using System.CommandLine;
using OnnxLora.Cli.Commands;

namespace OnnxLora.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        OnnxLora.Onnx.Runtime.OrtTelemetry.DisableForProcess();
        var root = new RootCommand("OnnxLora: LoRA fine-tuning of Llama-family models on ONNX Runtime, in .NET.");
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(ParityCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(InitModelCommand.Create());
        root.Subcommands.Add(QuickstartCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ArtifactsCommand.Create());
        root.Subcommands.Add(ExportAdapterCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(BenchDecodeCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        return root.Parse(args).Invoke();
    }
}
