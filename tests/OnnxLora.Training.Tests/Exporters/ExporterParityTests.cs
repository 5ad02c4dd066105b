// Bring your own ONNX: `parity --adapter --trajectory` on graphs laid out as real exporters write them, against
// the transformers/PEFT fixture: the model builder's default packed-QKV layout (fp32, and fp16 at fp16
// tolerances), its separate-RotaryEmbedding form (position_ids input), a decoder named only in genai_config.json,
// and torch.onnx 1.13 exports (folded, unfolded Transpose+MatMul, optimum KV cache). Each compares logits, loss,
// all 28 LoRA gradients and, for the main kinds, the 30-step AdamW trajectory. B=2, T=16 (fixture batch).
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class ExporterParityTests(ExporterFolders fx) : IClassFixture<ExporterFolders>
{
    /// <summary>The acceptance limits (ParityTolerances); fp16 runs use loss scaling 1024 as in MixedPrecisionTests.</summary>
    private static readonly ParityTolerances s_fp32 = ParityTolerances.Fp32;
    private static readonly ParityTolerances s_fp16 = ParityTolerances.Fp16;

    [Fact]
    public void PackedQkvBuilderLayoutMatchesPeftWithTrajectory() => AssertParity(fx.PackedFp32, s_fp32, trajectory: true);

    [Fact]
    public void Fp16PackedBuilderLayoutMatchesPeftAtFp16Tolerances() => AssertParity(fx.PackedFp16, s_fp16, trajectory: true, lossScale: 1024);

    [Fact]
    public void TorchOnnxExportMatchesPeftWithTrajectory() => AssertParity(ExporterFolders.TorchExport("tiny-llama"), s_fp32, trajectory: true);

    [Theory]
    [InlineData("tiny-llama-with-past")]
    [InlineData("tiny-llama-unfolded")]
    public void TorchOnnxExportVariantsMatchPeft(string export) => AssertParity(ExporterFolders.TorchExport(export), s_fp32, trajectory: false);

    [Fact]
    public void TorchOnnxExportGivenAsAnOnnxFileMatchesPeft() =>
        AssertParity(Path.Combine(ExporterFolders.TorchExport("tiny-llama"), "model.onnx"), s_fp32, trajectory: false);

    [Fact]
    public void BuilderLayoutWithSeparateRotaryAndPositionIdsMatchesPeft() => AssertParity(fx.SeparateRotary, s_fp32, trajectory: false);

    [Fact]
    public void DecoderNamedInGenAiConfigIsTheOneTrained()
    {
        Assert.False(File.Exists(Path.Combine(fx.OtherDecoderFile, "model.onnx")));
        AssertParity(fx.OtherDecoderFile, s_fp32, trajectory: false);
    }

    private static void AssertParity(string model, ParityTolerances tol, bool trajectory, float? lossScale = null)
    {
        var r = ParityRunner.Run(new ParityOptions
        {
            Model = model, Batch = Fixture.Reference, Adapter = Fixture.Adapter, Trajectory = trajectory ? Fixture.Trajectory : null,
            LossScale = lossScale,
        });
        AssertWithin(r, "base.logits", tol.Logits);
        AssertWithin(r, "base.loss", tol.Loss);
        AssertWithin(r, "lora.logits", tol.Logits);
        AssertWithin(r, "lora.loss", tol.Loss);
        var grads = r.Comparisons.Where(c => c.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(28, grads.Count);
        foreach (var g in grads)
        {
            Assert.True(g.Relative <= tol.GradientRelative, $"{model}: {g.Name} relative error {g.Relative:E2} > {tol.GradientRelative:E0}");
            Assert.True(g.MaxAbsReference > 0, $"{g.Name}: reference gradient is all zeros, the check would be vacuous");
        }
        if (trajectory)
        {
            AssertWithin(r, "trajectory.losses", tol.Trajectory);
        }
    }

    private static void AssertWithin(ParityResult r, string name, double tolerance)
    {
        var c = Assert.Single(r.Comparisons, x => x.Name == name);
        Assert.True(c.MaxAbs <= tolerance, $"{name}: max abs error {c.MaxAbs:E2} > {tolerance:E0}");
    }
}
