namespace OnnxLora.Training.Tests.Exporters;
public sealed class ScratchWriteFolders
{
    [Fact]
    public void WriteScratch()
    {
        BuilderLayout.Write(Fixture.Base, "/tmp/i12-impl-b/packed16", new BuilderOptions { Precision = OnnxLora.Onnx.Ir.ElementType.Float16 });
        BuilderLayout.Write(Fixture.Base, "/tmp/i12-impl-b/sep16", new BuilderOptions { Precision = OnnxLora.Onnx.Ir.ElementType.Float16, PackedQkv = false });
        BuilderLayout.Write(Fixture.Base, "/tmp/i12-impl-b/packed32", new BuilderOptions { });
        BuilderLayout.Write(Fixture.Base, "/tmp/i12-impl-b/rot", new BuilderOptions { PackedQkv = false, FusedRotary = false });
        BuilderLayout.Write(Fixture.Base, "/tmp/i12-impl-b/bf16", new BuilderOptions { Precision = OnnxLora.Onnx.Ir.ElementType.BFloat16 });
    }
}
