// The tiny-llama fixture imported once into a temp GenAI folder, shared by the fold tests.
using OnnxLora.Models.Import;

namespace OnnxLora.Rewrite.Tests.Fold;

public sealed class ImportedFixture : IDisposable
{
    public ImportedFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "onnxlora-fold-tests-" + Guid.NewGuid().ToString("N")[..12]);
        BaseDir = Path.Combine(Root, "base");
        HfImporter.Import(Path.Combine(Fixture.TinyLlama, "base"), BaseDir);
    }

    public string Root { get; }

    public string BaseDir { get; }

    public string AdapterDir => Path.Combine(Fixture.TinyLlama, "adapter");

    public string NewPath(string name) => Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Models.AtomicFolder.TryDelete(Root);
}
