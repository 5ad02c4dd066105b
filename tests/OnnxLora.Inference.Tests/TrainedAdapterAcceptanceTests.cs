// Acceptance: a model trained by the trainer behind `onnxlora train`, then merged, generates on GenAI
// exactly the greedy tokens that the base + hot-swapped .onnx_adapter (adapter-ready model) generates,
// and both differ from the base (the adapter really changes the output). Tiny random Llama, CPU.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;

namespace OnnxLora.Inference.Tests;

public sealed class TrainedAdapterAcceptanceTests
{
    private const int NewTokens = 24;

    private static readonly LlamaConfig s_config = RandomLlama.Preset("tiny") with
    {
        HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16,
        MaxPositionEmbeddings = 128,
    };

    [Fact]
    public void MergedGreedyOutputEqualsHotSwappedAdapterOutput()
    {
        using var dir = new TempDir();
        RandomLlama.Write(dir["hf"], s_config, seed: 21);
        EmbeddedTokenizer.WriteTo(dir["hf"]);
        HfImporter.Import(dir["hf"], dir["base"]);
        var run = new Trainer(new TrainConfig
        {
            Model = dir["base"], Data = EmbeddedDatasets.WritePirate(dir["pirate.jsonl"]), Output = dir["run"],
            MaxSteps = 12, BatchSize = 4, MaxSeqLen = 64, Lr = 1e-2, Seed = 2, Lora = new LoraConfig { R = 8, Alpha = 16 },
        }, dir["run"]).Run();
        Assert.True(run.Completed);

        var adapter = PeftAdapter.Load(run.AdapterDir);
        LoraFold.Merge(dir["base"], adapter, dir["merged"], adapterSource: run.AdapterDir);
        AdapterReadyModel.Build(dir["base"], adapter.Settings, dir["ready"]);
        var adapterFile = Path.Combine(dir["ready"], "pirate" + OnnxAdapterWriter.Extension);
        AdapterExport.WriteOnnxAdapter(adapter, dir["base"], adapterFile);

        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        List<int> merged, plain;
        int[] prompt;
        using (var m = new GenAiGenerator(dir["merged"]))
        {
            prompt = m.Encode("Where be the treasure?");
            merged = m.GenerateTokens(prompt, o).ToList();
        }
        using (var b = new GenAiGenerator(dir["base"]))
        {
            plain = b.GenerateTokens(prompt, o).ToList();
        }
        using var ready = new GenAiGenerator(dir["ready"]);
        ready.LoadAdapter("pirate", adapterFile);
        var hotSwapped = ready.GenerateTokens(prompt, o with { Adapter = "pirate" }).ToList();

        Assert.True(merged.Count >= 16, $"only {merged.Count} tokens generated");
        Assert.Equal(merged, hotSwapped);
        Assert.NotEqual(plain, merged);
        Assert.Equal(plain, ready.GenerateTokens(prompt, o).ToList()); // no adapter active → the base
    }
}
