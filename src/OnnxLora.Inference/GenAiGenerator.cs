// Text generation over ORT GenAI (CPU): one Model + Tokenizer, optional LoRA adapters hot-swapped per
// generation (Adapters.LoadAdapter + Generator.SetActiveAdapter), token-by-token streaming.
// It does not own a KV cache, sampling code or chat templates: GenAI does the first two, and chat prompts come
// rendered and tokenized by Models.Chat.ChatTokenizer (the same path as training data). Of RuntimeOptions it applies
// what GenAI's session_options take (threads, CPU arena, profiling, config entries) as a config overlay; the memory
// pattern stays GenAI's own, and a Cuda device is refused (GenAI's CUDA package is not available here).
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Inference;

public sealed class GenAiGenerator : IDisposable
{
    private readonly Model _model;
    private readonly Tokenizer _tokenizer;
    private readonly HashSet<string> _adapterNames = new(StringComparer.Ordinal);
    private readonly string _modelDir;
    private readonly int? _bosToAdd;
    private Adapters? _adapters;

    /// <param name="modelDir">a GenAI folder (genai_config.json + model).</param>
    /// <param name="runtime">session settings (null: GenAI's defaults); the device must be Cpu.</param>
    public GenAiGenerator(string modelDir, RuntimeOptions? runtime = null)
    {
        if (!File.Exists(Path.Combine(modelDir, "genai_config.json")))
        {
            throw new FileNotFoundException($"{modelDir}: genai_config.json not found (not an ORT GenAI model folder)");
        }
        if (runtime is { Device: not Device.Cpu })
        {
            throw new BadInputException("ORT GenAI runs on CPU here (its CUDA package is not available); use --engine ort --device cuda");
        }
        GenAiRuntime.EnsureLoaded();
        _modelDir = modelDir;
        using (var config = new Config(modelDir))
        {
            if (runtime is not null && SessionOverlay(runtime) is { } overlay)
            {
                config.Overlay(overlay);
            }
            _model = new Model(config);
        }
        _tokenizer = new Tokenizer(_model);
        // GenAI's tokenizer does not apply tokenizer_config.json's add_bos_token; transformers does, and the
        // model was trained that way, so Encode adds BOS itself when the config asks for it.
        try
        {
            var config = Models.Tokenization.TextTokenizer.Load(modelDir);
            _bosToAdd = config.AddsBos ? config.BosId : null;
        }
        catch (Exception e) when (e is FileNotFoundException or BadInputException)
        {
            _bosToAdd = null; // a tokenizer only GenAI understands: keep its own encoding
        }
    }

    public IReadOnlyCollection<string> AdapterNames => _adapterNames;

    /// <summary>The genai_config.json overlay setting the decoder's session_options from <paramref name="runtime"/>; null when nothing differs from GenAI's defaults.</summary>
    public static string? SessionOverlay(RuntimeOptions runtime)
    {
        var session = new JsonObject();
        if (runtime.Threads > 0)
        {
            session["intra_op_num_threads"] = runtime.Threads;
        }
        if (!runtime.CpuArena)
        {
            session["enable_cpu_mem_arena"] = false;
        }
        if (runtime.ProfilePrefix is { } prefix)
        {
            session["enable_profiling"] = prefix;
        }
        foreach (var (key, value) in runtime.SessionConfig)
        {
            session[key] = value; // GenAI passes unknown session_options keys on as config entries
        }
        return session.Count == 0 ? null : new JsonObject { ["model"] = new JsonObject { ["decoder"] = new JsonObject { ["session_options"] = session } } }.ToJsonString();
    }

    /// <summary>The model folder (its tokenizer files and chat template are what chat prompts are rendered with).</summary>
    public string ModelDir => _modelDir;

    /// <summary>Loads an .onnx_adapter file under <paramref name="name"/>; the model must be adapter-ready.</summary>
    public void LoadAdapter(string name, string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: adapter file not found", path);
        }
        _adapters ??= new Adapters(_model);
        _adapters.LoadAdapter(path, name);
        _adapterNames.Add(name);
    }

    /// <summary>Token ids of <paramref name="text"/> as transformers encodes it (BOS per tokenizer_config.json).</summary>
    public int[] Encode(string text)
    {
        using var seq = _tokenizer.Encode(text);
        var ids = seq[0].ToArray();
        return _bosToAdd is { } bos && (ids.Length == 0 || ids[0] != bos) ? [bos, .. ids] : ids;
    }

    public string Decode(ReadOnlySpan<int> tokens) => _tokenizer.Decode(tokens);

    /// <summary>Yields each new token id as GenAI produces it (prompt excluded).</summary>
    public IEnumerable<int> GenerateTokens(int[] prompt, GenerationOptions o)
    {
        if (prompt.Length == 0)
        {
            throw new BadInputException("generation needs a non-empty prompt");
        }
        using var p = new GeneratorParams(_model);
        p.SetSearchOption("max_length", prompt.Length + o.MaxNewTokens);
        p.SetSearchOption("do_sample", o.DoSample);
        if (o.MinNewTokens > 0)
        {
            p.SetSearchOption("min_length", prompt.Length + o.MinNewTokens);
        }
        if (o.DoSample)
        {
            p.SetSearchOption("temperature", o.Temperature);
            p.SetSearchOption("top_k", o.TopK);
            p.SetSearchOption("top_p", o.TopP);
        }
        if (o.Seed is { } seed)
        {
            p.SetSearchOption("random_seed", seed);
        }
        using var g = new Generator(_model, p);
        if (o.Adapter is { } name)
        {
            if (_adapters is null || !_adapterNames.Contains(name))
            {
                throw new BadInputException($"adapter '{name}' is not loaded (loaded: {string.Join(", ", _adapterNames)})");
            }
            g.SetActiveAdapter(_adapters, name);
        }
        g.AppendTokens(prompt);
        int produced = 0;
        while (!g.IsDone() && produced < o.MaxNewTokens)
        {
            g.GenerateNextToken();
            var seq = g.GetSequence(0);
            produced++;
            yield return seq[^1];
        }
    }

    /// <summary>Streams decoded text pieces for a text prompt.</summary>
    public IEnumerable<string> GenerateText(string prompt, GenerationOptions o) => GenerateText(Encode(prompt), o);

    /// <summary>Streams decoded text pieces for prompt ids (e.g. a chat prompt rendered and tokenized by ChatTokenizer).</summary>
    public IEnumerable<string> GenerateText(int[] prompt, GenerationOptions o)
    {
        using var stream = _tokenizer.CreateStream();
        foreach (var t in GenerateTokens(prompt, o))
        {
            yield return stream.Decode(t);
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"GenAiGenerator({_adapterNames.Count} adapters)");

    public void Dispose()
    {
        _adapters?.Dispose();
        _tokenizer.Dispose();
        _model.Dispose();
    }
}
