// Left-padded batches match transformers 5 (SDPA) exactly: a pad query that sees no key outputs zeros from
// attention, and the last pad's prediction of the first real token counts in the loss, as HF's collators leave
// it. Reference: tests/data/left-pad, an independent PyTorch Llama with SDPA semantics (tools/torch-ref/
// left_pad_ref.py), B=3, T=16, pads 0/3/7, fixture adapter. Checked on our import, the builder's packed layout
// and a torch.onnx export; logits are compared at every position, pads included.
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class LeftPaddingParityTests(ExporterFolders fx) : IClassFixture<ExporterFolders>
{
    /// <summary>The left-padding tolerances: loss absolute, gradients relative to max |ref|; logits as elsewhere.</summary>
    private const double LossTolerance = 1e-5;
    private const double GradientRelativeTolerance = 1e-4;
    private const double LogitsTolerance = 1e-4;

    public static TheoryData<string> Models => ["import", "builder-packed", "torch-onnx"];

    [Theory]
    [MemberData(nameof(Models))]
    public void LeftPaddedLossGradientsAndLogitsMatchSdpaReference(string kind)
    {
        var r = ParityRunner.Run(new ParityOptions { Model = Model(kind), Batch = ExporterFolders.LeftPadReference, Adapter = Fixture.Adapter });
        foreach (var name in new[] { "base.loss", "lora.loss" })
        {
            var c = Assert.Single(r.Comparisons, x => x.Name == name);
            Assert.True(c.MaxAbs <= LossTolerance, $"{kind}: {name} max |Δ| {c.MaxAbs:E2} > {LossTolerance:E0}");
        }
        foreach (var name in new[] { "base.logits", "lora.logits" })
        {
            var c = Assert.Single(r.Comparisons, x => x.Name == name);
            Assert.True(c.MaxAbs <= LogitsTolerance, $"{kind}: {name} (pads included) max |Δ| {c.MaxAbs:E2}");
        }
        var grads = r.Comparisons.Where(c => c.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(28, grads.Count);
        Assert.All(grads, g => Assert.True(g.Relative <= GradientRelativeTolerance, $"{kind}: {g.Name} relative {g.Relative:E2}"));
    }

    [Fact]
    public void LossCountsThePadThatPredictsTheFirstRealTokenAndPadRowsSeeNothing()
    {
        // The two ways to get it wrong, each ~3e-3 to 6e-3 away: eager attention on pad rows, or dropping the pad → first-token label.
        var ours = ParityRunner.Run(new ParityOptions { Model = Fixture.Base, Batch = ExporterFolders.LeftPadReference, Adapter = Fixture.Adapter })
            .Outputs["lora.loss"].Data[0];
        using var reference = SafetensorsFile.Open(ExporterFolders.LeftPadReference);
        Assert.True(Math.Abs(ours - reference.ReadAsFloat32("lora.loss_eager_attention")[0]) > 100 * LossTolerance);
        Assert.True(Math.Abs(ours - reference.ReadAsFloat32("lora.loss_first_token_masked")[0]) > 100 * LossTolerance);
        Assert.True(Math.Abs(ours - reference.ReadAsFloat32("lora.loss")[0]) <= LossTolerance);
    }

    private string Model(string kind) => kind switch
    {
        "import" => Fixture.Base,
        "builder-packed" => fx.PackedFp32,
        _ => ExporterFolders.TorchExport("tiny-llama"),
    };
}
