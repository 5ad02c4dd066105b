// pretrain: the deterministic inputs of tools/pretrain/run.sh. `prepare` builds an English corpus from
// Debian's wordnet-base (WordNet 3.0 glosses) and fortunes/fortunes-min (fortune cookie files), splits it
// into train/held-out by document, learns a byte-level BPE tokenizer from the train part and writes a
// random-init Llama (preset pretrain-8m) with it in the GenAI layout; `pirate-chat` writes the fine-tuning task.
// It does not train: run.sh calls `onnxlora train` for that. Same inputs and seed give byte-identical outputs.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Tools.Pretrain;
using OnnxLora.Training.Data;

if (args.Length == 0 || args[0] is "--help" or "-h" || args.Contains("--help"))
{
    Console.WriteLine("""
        pretrain prepare --out <dir> [--preset pretrain-8m] [--seed 0] [--heldout-percent 1]
                         [--wordnet /usr/share/wordnet] [--fortunes /usr/share/games/fortunes]
            writes <dir>/corpus/{train,heldout}.jsonl ({"text"} documents), <dir>/init (random-init GenAI model
            with a BPE tokenizer learned from the train documents) and <dir>/corpus/stats.json
        pretrain pirate-chat --out <file.jsonl>
            the embedded pirate prompt/completion pairs as {"messages": [user, assistant]} for the chat template
        """);
    return 0;
}
try
{
    var opts = Args.Parse(args[1..]);
    return args[0] switch
    {
        "prepare" => Prepare(opts),
        "pirate-chat" => PirateChat(opts),
        _ => throw new ArgumentException($"unknown command '{args[0]}' (prepare | pirate-chat; --help)"),
    };
}
catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"pretrain: {e.Message}");
    return 2;
}

static int Prepare(Args opts)
{
    var sw = Stopwatch.StartNew();
    var inv = CultureInfo.InvariantCulture;
    string outDir = Path.GetFullPath(opts.Get("out", "runs/pretrained"));
    string preset = opts.Get("preset", "pretrain-8m");
    int seed = int.Parse(opts.Get("seed", "0"), inv);
    double heldoutPercent = double.Parse(opts.Get("heldout-percent", "1"), inv);
    var docs = new List<CorpusDocument>();
    docs.AddRange(CorpusSources.WordNet(opts.Get("wordnet", "/usr/share/wordnet")));
    int wordnetDocs = docs.Count;
    docs.AddRange(CorpusSources.Fortunes(opts.Get("fortunes", "/usr/share/games/fortunes")));
    docs = CorpusSources.Deduplicate(docs);
    var (train, heldout) = CorpusSources.Split(docs, heldoutPercent);
    Console.WriteLine(string.Create(inv,
        $"corpus: {docs.Count} documents ({wordnetDocs} WordNet groups before dedup), {docs.Sum(d => d.Text.Length) / 1e6:F2} M chars; " +
        $"train {train.Count}, held-out {heldout.Count} ({heldoutPercent}% by document hash) [{sw.Elapsed.TotalSeconds:F1}s]"));

    string corpusDir = Path.Combine(outDir, "corpus");
    Directory.CreateDirectory(corpusDir);
    WriteJsonl(Path.Combine(corpusDir, "train.jsonl"), train);
    WriteJsonl(Path.Combine(corpusDir, "heldout.jsonl"), heldout);

    var config = RandomLlama.Preset(preset);
    var tokenizer = ByteLevelBpeWriter.Build(string.Join("\n", train.Select(d => d.Text)), config.VocabSize);
    if (tokenizer.VocabSize != config.VocabSize)
    {
        throw new InvalidDataException($"the corpus yields only {tokenizer.VocabSize} BPE entries; preset {preset} needs {config.VocabSize}");
    }
    Console.WriteLine(string.Create(inv, $"tokenizer: byte-level BPE, {tokenizer.VocabSize} entries learned from the train documents [{sw.Elapsed.TotalSeconds:F1}s]"));

    // A fixed scratch name: the importer records its source folder in model.onnx, so this keeps that file deterministic too.
    string hf = Path.Combine(outDir, "init-hf");
    AtomicFolder.TryDelete(hf);
    try
    {
        RandomLlama.Write(hf, config, seed);
        tokenizer.WriteTo(hf);
        var tok = TextTokenizer.Load(hf);
        long trainTokens = train.Sum(d => (long)tok.Encode(d.Text, addSpecialTokens: false).Count + 2);
        long heldoutTokens = heldout.Sum(d => (long)tok.Encode(d.Text, addSpecialTokens: false).Count + 2);
        long parameters = RandomLlama.TensorShapes(config).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
        string init = Path.Combine(outDir, "init");
        AtomicFolder.TryDelete(init);
        HfImporter.Import(hf, init);
        var stats = new Dictionary<string, object>
        {
            ["preset"] = preset,
            ["seed"] = seed,
            ["parameters"] = parameters,
            ["vocab_size"] = tokenizer.VocabSize,
            ["documents"] = docs.Count,
            ["train_documents"] = train.Count,
            ["heldout_documents"] = heldout.Count,
            ["train_chars"] = train.Sum(d => (long)d.Text.Length),
            ["heldout_chars"] = heldout.Sum(d => (long)d.Text.Length),
            ["train_tokens"] = trainTokens,
            ["heldout_tokens"] = heldoutTokens,
            ["sources"] = docs.GroupBy(d => d.Source).ToDictionary(g => g.Key, g => g.Count()),
        };
        File.WriteAllText(Path.Combine(corpusDir, "stats.json"), JsonSerializer.Serialize(stats, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine(string.Create(inv,
            $"model: {preset}, {parameters / 1e6:F2} M parameters, seed {seed} → {init}; train {trainTokens / 1e6:F2} M tokens, " +
            $"held-out {heldoutTokens / 1e3:F0} k tokens (with BOS/EOS) [{sw.Elapsed.TotalSeconds:F1}s]"));
    }
    finally
    {
        AtomicFolder.TryDelete(hf);
    }
    return 0;
}

static int PirateChat(Args opts)
{
    string output = opts.Get("out", "");
    if (output.Length == 0)
    {
        throw new ArgumentException("pirate-chat needs --out <file.jsonl>");
    }
    var lines = new List<string>();
    int n = 0;
    foreach (string line in EmbeddedDatasets.Pirate().Split('\n', StringSplitOptions.RemoveEmptyEntries))
    {
        n++;
        using var doc = JsonDocument.Parse(line);
        string prompt = doc.RootElement.GetProperty("prompt").GetString()?.Trim()
            ?? throw new InvalidDataException($"{EmbeddedDatasets.PirateResource}:{n}: prompt is null");
        string completion = doc.RootElement.GetProperty("completion").GetString()?.Trim()
            ?? throw new InvalidDataException($"{EmbeddedDatasets.PirateResource}:{n}: completion is null");
        lines.Add(JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = prompt }, new { role = "assistant", content = completion } } }, s_json));
    }
    WriteLines(output, lines);
    Console.WriteLine($"wrote {lines.Count} chat examples to {output}");
    return 0;
}

static void WriteJsonl(string path, IEnumerable<CorpusDocument> docs) =>
    WriteLines(path, docs.Select(d => JsonSerializer.Serialize(new { text = d.Text }, s_json)));

// temp file, then rename: a half-written corpus never replaces a whole one
static void WriteLines(string path, IEnumerable<string> lines)
{
    string full = Path.GetFullPath(path);
    Directory.CreateDirectory(Path.GetDirectoryName(full)!);
    string temp = full + ".tmp";
    File.WriteAllText(temp, string.Concat(lines.Select(l => l + "\n")), new UTF8Encoding(false));
    File.Move(temp, full, overwrite: true);
}

internal static partial class Program
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
