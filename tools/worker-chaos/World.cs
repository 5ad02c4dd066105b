// The chaos run's model and data: a very small random Llama in the GenAI layout (embedded tokenizer) under a
// model root, 16 lines of the shipped pirate dataset under a dataset root, and the job spec each job submits.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Training.Data;

namespace OnnxLora.Tools.WorkerChaos;

internal static class World
{
    public const string ModelName = "tiny";
    public const string DatasetName = "pirate.jsonl";
    private const int DatasetLines = 16;

    public static (string ModelRoot, string DatasetRoot) Create(string root)
    {
        var models = Path.Combine(root, "models");
        var datasets = Path.Combine(root, "datasets");
        var hf = Path.Combine(root, "hf");
        RandomLlama.Write(hf, RandomLlama.Preset("tiny") with
        {
            HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 16,
            MaxPositionEmbeddings = 64,
        }, seed: 7);
        EmbeddedTokenizer.WriteTo(hf);
        HfImporter.Import(hf, Path.Combine(models, ModelName));
        AtomicFolder.TryDelete(hf);
        Directory.CreateDirectory(datasets);
        File.WriteAllLines(Path.Combine(datasets, DatasetName),
            EmbeddedDatasets.Pirate().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(DatasetLines));
        return (models, datasets);
    }

    public static string Spec(int steps, int saveEvery, int seed) =>
        $$"""{"model":"{{ModelName}}","dataset":"{{DatasetName}}","outputs":["adapter","metrics"],"config":{"max_steps":{{steps}},"batch_size":2,"max_seq_len":32,"lr":0.001,"seed":{{seed}},"save_every":{{saveEvery}},"keep_last":2,"lora":{"r":2,"alpha":4} } }""";}
