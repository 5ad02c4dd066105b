// Options shared by `generate`, `chat` and `bench-decode`: model folder, search settings, adapters.
using System.CommandLine;
using OnnxLora.Inference;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Cli.Commands;

internal sealed class GenerationArgs
{
    private readonly Option<string> _model = new("--model") { Description = "Model folder (ORT GenAI/builder, or a torch.onnx export with --engine ort)", Required = true };
    private readonly Option<int> _maxNew = new("--max-new-tokens") { Description = "New tokens at most", DefaultValueFactory = _ => 128 };
    private readonly Option<double> _temperature = new("--temperature") { Description = "0 = greedy (default)" };
    private readonly Option<int> _topK = new("--top-k") { Description = "Top-k when sampling", DefaultValueFactory = _ => 50 };
    private readonly Option<double> _topP = new("--top-p") { Description = "Top-p when sampling", DefaultValueFactory = _ => 1.0 };
    private readonly Option<int?> _seed = new("--seed") { Description = "Random seed" };
    private readonly Option<string[]> _adapters = new("--adapter") { Description = "Load an .onnx_adapter: name=path (repeatable)", AllowMultipleArgumentsPerToken = true };
    private readonly Option<string?> _adapterName = new("--adapter-name") { Description = "Adapter to activate (default: the only one loaded)" };

    /// <summary>Engine choice (generate only; chat and bench-decode stay on GenAI).</summary>
    public Option<string> Engine { get; } = new("--engine")
    {
        Description = "auto (genai when the folder has genai_config.json, else ort), genai (ORT GenAI, CPU) or ort (our ORT loop: CUDA, torch.onnx exports)",
        DefaultValueFactory = _ => "auto",
    };

    public string Model(ParseResult r) => r.GetValue(_model)!;

    public static GenerationArgs AddTo(Command cmd)
    {
        var a = new GenerationArgs();
        cmd.Options.Add(a._model);
        cmd.Options.Add(a._maxNew);
        cmd.Options.Add(a._temperature);
        cmd.Options.Add(a._topK);
        cmd.Options.Add(a._topP);
        cmd.Options.Add(a._seed);
        cmd.Options.Add(a._adapters);
        cmd.Options.Add(a._adapterName);
        return a;
    }

    /// <summary>
    /// The one .onnx_adapter file the ORT engine activates: --adapter-name's, or the only --adapter given; null for none.
    /// (GenAI loads several and switches; our ORT loop runs one adapter per generation.)
    /// </summary>
    public string? SingleAdapterFile(ParseResult r)
    {
        var specs = (r.GetValue(_adapters) ?? []).Select(Parse).ToList();
        if (specs.Count == 0)
        {
            return null;
        }
        var name = r.GetValue(_adapterName) ?? (specs.Count == 1 ? specs[0].Name
            : throw new BadInputException("several --adapter given: choose one with --adapter-name"));
        return specs.FirstOrDefault(s => s.Name == name).Path
            ?? throw new BadInputException($"--adapter-name '{name}' is not among the --adapter names ({string.Join(", ", specs.Select(s => s.Name))})");
    }

    private static (string Name, string Path) Parse(string spec)
    {
        var parts = spec.Split('=', 2);
        return parts.Length == 2 && parts[0].Length > 0
            ? (parts[0], parts[1])
            : throw new BadInputException($"--adapter '{spec}' must look like name=path/to/file.onnx_adapter");
    }

    public GenAiGenerator CreateGenerator(ParseResult r, RuntimeOptions runtime)
    {
        var gen = new GenAiGenerator(r.GetValue(_model)!, runtime);
        try
        {
            foreach (var (name, path) in (r.GetValue(_adapters) ?? []).Select(Parse))
            {
                gen.LoadAdapter(name, path);
            }
        }
        catch
        {
            gen.Dispose();
            throw;
        }
        _loaded = gen.AdapterNames.ToList();
        return gen;
    }

    private List<string> _loaded = [];

    public GenerationOptions Options(ParseResult r) => new()
    {
        MaxNewTokens = r.GetValue(_maxNew),
        Temperature = r.GetValue(_temperature),
        TopK = r.GetValue(_topK),
        TopP = r.GetValue(_topP),
        Seed = r.GetValue(_seed),
        Adapter = r.GetValue(_adapterName) ?? (_loaded.Count == 1 ? _loaded[0] : null),
    };
}
