// The tiny-llama fixture imported once into a temp GenAI folder (plus a merged copy), shared by the tests.
using OnnxLora.Models.Import;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Inference.Tests;

public sealed class InferenceFixture : IDisposable
{
    public InferenceFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "onnxlora-inference-tests-" + Guid.NewGuid().ToString("N")[..12]);
        BaseDir = Path.Combine(Root, "base");
        MergedDir = Path.Combine(Root, "merged");
        HfImporter.Import(Path.Combine(Fixture.TinyLlama, "base"), BaseDir);
        LoraFold.Merge(BaseDir, PeftAdapter.Load(AdapterDir), MergedDir);
    }

    public string Root { get; }

    public string BaseDir { get; }

    public string MergedDir { get; }

    public string AdapterDir => Path.Combine(Fixture.TinyLlama, "adapter");

    public string NewPath(string name) => Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Models.AtomicFolder.TryDelete(Root);
}
