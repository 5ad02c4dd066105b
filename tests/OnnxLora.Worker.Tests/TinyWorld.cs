// A very small Llama (GenAI layout, embedded tokenizer) and a pirate-dataset subset, made once per test run
// under a model root and a dataset root, plus the job config the worker tests train with and its twin run.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;

namespace OnnxLora.Worker.Tests;

public static class TinyWorld
{
    public const string ModelName = "tiny";
    public const string DatasetName = "pirate.jsonl";
    private const int DatasetLines = 16;

    private static readonly Lazy<string> s_root = new(Create);

    public static string Root => s_root.Value;

    public static string ModelRoot => Path.Combine(Root, "models");

    public static string DatasetRoot => Path.Combine(Root, "datasets");

    /// <summary>The job spec's "config" object for <paramref name="steps"/> steps with <paramref name="seed"/>.</summary>
    public static string ConfigJson(int steps, int seed) =>
        $$$"""{"max_steps": {{{steps}}}, "batch_size": 2, "max_seq_len": 32, "lr": 0.001, "seed": {{{seed}}}, "save_every": 1, "keep_last": 2, "lora": {"r": 2, "alpha": 4}}""";

    public static string TrainSpec(int steps, int seed, string outputs = """["adapter", "metrics"]""", string mergedFormat = "tar.gz") =>
        $$"""{"kind": "train", "model": "{{ModelName}}", "dataset": "{{DatasetName}}", "config": {{ConfigJson(steps, seed)}}, "outputs": {{outputs}}, "merged_format": "{{mergedFormat}}"}""";

    /// <summary>The adapter weights of the same config trained in one uninterrupted run, in process.</summary>
    public static byte[] TwinAdapter(int steps, int seed)
    {
        using var dir = new TempDir();
        var config = TrainConfigLoader.ParseJson(ConfigJson(steps, seed)) with
        {
            Model = Path.Combine(ModelRoot, ModelName),
            Data = Path.Combine(DatasetRoot, DatasetName),
        };
        var summary = new Trainer(config, dir.Path).Run();
        Assert.True(summary.Completed);
        return File.ReadAllBytes(Path.Combine(dir.Path, Trainer.AdapterFolder, "adapter_model.safetensors"));
    }

    private static string Create()
    {
        var root = TempDir.ForProcess("onnxlora-worker-tests");
        var model = Path.Combine(root, "models", ModelName);
        if (!File.Exists(Path.Combine(model, "model.onnx")))
        {
            var hf = Path.Combine(root, "hf");
            RandomLlama.Write(hf, RandomLlama.Preset("tiny") with
            {
                HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 16,
                MaxPositionEmbeddings = 64,
            }, seed: 7);
            EmbeddedTokenizer.WriteTo(hf);
            HfImporter.Import(hf, model);
            AtomicFolder.TryDelete(hf);
        }
        Directory.CreateDirectory(Path.Combine(root, "datasets"));
        File.WriteAllLines(Path.Combine(root, "datasets", DatasetName),
            EmbeddedDatasets.Pirate().Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(DatasetLines));
        return root;
    }
}
