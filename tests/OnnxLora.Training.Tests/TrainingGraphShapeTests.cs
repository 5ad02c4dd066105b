// Broadcast gradients are reduced with static axes when shapes are provable. The fixture has grouped-query
// attention (4 heads over 2 kv heads): its repeat_kv Expand once hid every downstream shape, and the
// backward pass then carried a runtime reduction (Shape/Equal/NonZero/ReduceSum chain) per broadcasting
// op — 3× the nodes on Llama-3.2-1B. Checked in fp32 and fp16.
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Tests;

public sealed class TrainingGraphShapeTests
{
    [Theory]
    [InlineData(ElementType.Float)]
    [InlineData(ElementType.Float16)]
    public void GroupedQueryAttentionGraphHasNoRuntimeBroadcastReductions(ElementType dtype)
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["m"], dtype);
        var graph = TrainingGraph.Build(ModelReader.Load(Path.Combine(dir["m"], "model.onnx")), new TrainingGraphOptions()).Model.Graph;
        Assert.Contains(graph.Nodes, n => n.OpType == "Expand" && n.Name.Contains("GroupQueryAttention", StringComparison.Ordinal));
        Assert.DoesNotContain(graph.Nodes, n => n.OpType == "NonZero");
    }
}
