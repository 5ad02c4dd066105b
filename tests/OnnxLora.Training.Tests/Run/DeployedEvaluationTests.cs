// `eval --deployed` runs the folder's decoder graph as GenAI does: on a float model it must give the loss of the
// training-lowered eval graph (same math, other graph), and it evaluates an int4 model that lowering cannot.
using OnnxLora.Models.Import;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Training.Run;

namespace OnnxLora.Training.Tests.Run;

public sealed class DeployedEvaluationTests
{
    /// <summary>fp32 mean cross-entropy: GenAI graph (GroupQueryAttention, KV layout) vs our lowered eval graph.</summary>
    private const double LossTolerance = 1e-5;

    /// <summary>int4 (block 32) vs fp32 on the random-init fixture: perplexity within 3% (the bound).</summary>
    private const double Int4PerplexityRatio = 0.03;

    private const int MaxSeqLen = 64;

    private static string Data => Path.Combine(TestPaths.RepoRoot, "src", "OnnxLora.Training", "Data", "Embedded", "pirate.jsonl");

    [Fact]
    public void DeployedGraphLossEqualsLoweredEvalLossOnAFloatModel()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["base"]);
        var lowered = DatasetEvaluation.Run(dir["base"], null, Data, MaxSeqLen, 8, null, new OnnxLora.Onnx.Runtime.RuntimeOptions());
        var deployed = DeployedEvaluation.Run(dir["base"], Data, MaxSeqLen, null, null);
        Assert.Equal(lowered.Tokens, deployed.Tokens);
        Assert.Equal(lowered.Examples, deployed.Examples);
        Assert.True(Math.Abs(lowered.Loss - deployed.Loss) <= LossTolerance, $"lowered {lowered.Loss} vs deployed {deployed.Loss}");
    }

    [Fact]
    public void Int4ModelIsEvaluatedAsDeployed()
    {
        using var dir = new TempDir();
        HfImporter.Import(Fixture.Base, dir["base"]);
        Int4Merge.Run(dir["base"], null, dir["int4"], new Int4QuantizeOptions());
        var fp32 = DeployedEvaluation.Run(dir["base"], Data, MaxSeqLen, null, 50);
        var int4 = DeployedEvaluation.Run(dir["int4"], Data, MaxSeqLen, null, 50);
        Assert.Equal(50, int4.Examples);
        Assert.Equal(fp32.Tokens, int4.Tokens);
        Assert.NotEqual(fp32.Loss, int4.Loss);
        Assert.True(Math.Abs(Math.Exp(int4.Loss) / Math.Exp(fp32.Loss) - 1) <= Int4PerplexityRatio,
            $"perplexity fp32 {Math.Exp(fp32.Loss)} vs int4 {Math.Exp(int4.Loss)}");
    }
}
