// The trainer stamps the base fingerprint (BaseHash over the targeted weights) into the adapter's
// safetensors __metadata__; merge then accepts the base it was trained on and refuses another one
// with one clear message, leaving no output folder behind. Tiny random Llamas, two steps of training.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Training.Config;
using OnnxLora.Training.Data;
using OnnxLora.Training.Run;

namespace OnnxLora.Training.Tests.Run;

public sealed class AdapterBaseHashTests
{
    private static readonly LlamaConfig s_config = RandomLlama.Preset("tiny") with
    {
        HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16,
        MaxPositionEmbeddings = 128,
    };

    [Fact]
    public void MergeAcceptsTheTrainingBaseAndRefusesAnother()
    {
        using var dir = new TempDir();
        var trained = TinyBase(dir, "base", seed: 11);
        var other = TinyBase(dir, "other", seed: 12);
        var data = EmbeddedDatasets.WritePirate(dir["pirate.jsonl"]);
        var run = new Trainer(new TrainConfig
        {
            Model = trained, Data = data, Output = dir["run"], MaxSteps = 2, BatchSize = 2, MaxSeqLen = 48, Lr = 1e-3, Seed = 1,
            Lora = new LoraConfig { R = 4, Alpha = 8 },
        }, dir["run"]).Run();
        Assert.True(run.Completed);

        var adapter = PeftAdapter.Load(run.AdapterDir);
        Assert.True(adapter.Metadata.ContainsKey(BaseHash.HashKey), "adapter has no base fingerprint");
        Assert.True(adapter.Metadata.ContainsKey(BaseHash.ShapesKey), "adapter has no base shapes");

        var targets = LoraFold.Merge(trained, adapter, dir["merged"]);
        Assert.NotEmpty(targets);
        Assert.True(File.Exists(Path.Combine(dir["merged"], GenAiFolder.DefaultDecoderFile)));

        var e = Assert.Throws<ModelFormatException>(() => LoraFold.Merge(other, adapter, dir["wrong"], adapterSource: run.AdapterDir));
        Assert.Contains("adapter was trained on another base", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(dir["wrong"]), "a refused merge left an output folder");
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir.Path), p => Path.GetFileName(p).Contains("wrong", StringComparison.Ordinal));
    }

    private static string TinyBase(TempDir dir, string name, int seed)
    {
        var hf = dir[name + "-hf"];
        RandomLlama.Write(hf, s_config, seed);
        EmbeddedTokenizer.WriteTo(hf);
        HfImporter.Import(hf, dir[name]);
        return dir[name];
    }
}
