// QLoRA parity: `parity --adapter --trajectory` on the model builder's -p int4 layout of the shared fixture
// (MatMulNBits with the reference's codes, accuracy_level 4 as the builder writes it for CPU; Int4BuilderLayout)
// against the PyTorch run of the same model on the dequantized weights (tests/data/int4, tools/torch-ref/int4_ref.py):
// logits, loss, all 28 LoRA gradients and the 30-step AdamW trajectory, symmetric and asymmetric, lm_head int4 and fp32.
// The training graph keeps MatMulNBits at accuracy_level 0 and dequantizes each weight in the backward for dX only.
// One reference trajectory is ill-conditioned: asymmetric with an fp32 lm_head, torch's own fp32 and fp64 runs of it
// differ by 5.3e-3 (AdamW's sign-like first steps amplify rounding). Where the reference's fp32-vs-fp64 spread
// exceeds ReferenceWellConditioned, our losses are held against its float64 run instead, no further from it than torch's own fp32 run (IllConditionedSpreadFraction).
using System.Text.Json;
using OnnxLora.Testing;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Parity;
using Xunit.Abstractions;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class Int4ParityTests(ExporterFolders fx, ITestOutputHelper output) : IClassFixture<ExporterFolders>
{
    /// <summary>The issue's fp32 limits: logits and loss absolute, gradients relative to max |ref| per tensor, trajectory absolute.</summary>
    private const double LogitsTolerance = 1e-4;
    private const double LossTolerance = 1e-5;
    private const double GradientRelativeTolerance = 1e-4;
    private const double TrajectoryTolerance = 1e-4;

    /// <summary>A reference trajectory whose fp32 and fp64 torch runs agree this closely is compared as the issue asks (1e-4).</summary>
    private const double ReferenceWellConditioned = 1e-5;

    /// <summary>
    /// Against the fp64 run of an ill-conditioned reference (one whose fp32 and fp64 torch runs drift apart: asym with
    /// an fp32 LM head, 5.3e-3), our fp32 run may be at most this fraction of torch's own fp32-vs-fp64 spread away from
    /// fp64: no less accurate than the reference's fp32. A fixed limit there would only test summation order (ours moved
    /// from 3.0e-4 to 3.3e-3 when weights became views).
    /// </summary>
    private const double IllConditionedSpreadFraction = 1.0;

    /// <summary>hidden_size of the shared fixture (K of every projection but down_proj, and of the LM head).</summary>
    private const long FixtureHidden = 64;

    [Theory]
    [InlineData("sym", true)]
    [InlineData("asym", true)]
    [InlineData("sym", false)]
    [InlineData("asym", false)]
    public void Int4BuilderLayoutTrainsLikeTheDequantizedReference(string variant, bool lmHeadInt4) => AssertParity(variant, lmHeadInt4, lossChunks: null);

    /// <summary>The chunked loss (the GPU default for large vocabularies) runs the int4 LM head once per chunk.</summary>
    [Fact]
    public void ChunkedLossOverAnInt4LmHeadTrainsLikeTheReference()
    {
        var model = AssertParity("sym", lmHeadInt4: true, lossChunks: 4);
        var g = TrainingGraph.Build(Models.GenAiFolder.Open(model).LoadDecoder(), new TrainingGraphOptions
        {
            Lora = new Rewrite.Lora.LoraSettings { Rank = 2, Alpha = 4 }, LossChunks = 4,
        }).Model.Graph;
        Assert.Equal(4, g.Nodes.Count(n => n.OpType == "MatMulNBits" && n.Name.Contains("lm_head_chunk", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Every int4 linear's forward in column groups (Int4ColumnSplit at 16 columns of K=64; at 1B only the LM head is
    /// split, at 64 MiB), the backward reading the whole weights: the reference's logits, gradients and trajectory.
    /// </summary>
    [Theory]
    [InlineData("sym")]
    [InlineData("asym")]
    public void Int4LinearsInColumnGroupsTrainLikeTheReference(string variant)
    {
        const long groupBytes = 16 * FixtureHidden * sizeof(float); // 16 columns of a K=64 weight
        var model = AssertParity(variant, lmHeadInt4: true, lossChunks: null, int4GroupBytes: groupBytes);
        var g = TrainingGraph.Build(Models.GenAiFolder.Open(model).LoadDecoder(), new TrainingGraphOptions
        {
            Lora = new Rewrite.Lora.LoraSettings { Rank = 2, Alpha = 4 }, Int4GroupBytes = groupBytes,
        }).Model.Graph;
        var groups = g.Nodes.Where(n => n.OpType == "MatMulNBits").ToList();
        Assert.True(groups.Count > 15, $"{groups.Count} MatMulNBits nodes: the 15 linears were not split");
        Assert.All(groups, n => Assert.True(n.GetInt("N", 0) * n.GetInt("K", 0) * sizeof(float) <= groupBytes, $"{n}: N={n.GetInt("N", 0)}, K={n.GetInt("K", 0)}"));
    }

    /// <summary>Runs and checks parity; returns the int4 folder.</summary>
    private string AssertParity(string variant, bool lmHeadInt4, int? lossChunks, long int4GroupBytes = Rewrite.Passes.Int4ColumnSplit.DefaultMaxFloatBytes)
    {
        var model = fx.NewPath($"int4-{variant}-{lmHeadInt4}");
        BuilderLayout.Write(Fixture.Base, model, new BuilderOptions { Int4 = variant, Int4LmHead = lmHeadInt4 });
        string name = variant + (lmHeadInt4 ? "" : "_fp32_lm_head");
        var data = Path.Combine(TestPaths.RepoRoot, "tests", "data", "int4");
        var r = ParityRunner.Run(new ParityOptions
        {
            Model = model,
            Batch = Path.Combine(data, $"reference_{name}.safetensors"),
            Adapter = Fixture.Adapter,
            Trajectory = Path.Combine(data, $"trajectory_{name}.json"),
            LossChunks = lossChunks,
            Int4GroupBytes = int4GroupBytes,
        });
        foreach (var c in r.Comparisons)
        {
            output.WriteLine($"{name}: {c.Name} max abs {c.MaxAbs:E2}, relative {c.Relative:E2}");
        }
        AssertWithin(r, name, "base.logits", LogitsTolerance);
        AssertWithin(r, name, "base.loss", LossTolerance);
        AssertWithin(r, name, "lora.logits", LogitsTolerance);
        AssertWithin(r, name, "lora.loss", LossTolerance);
        var grads = r.Comparisons.Where(c => c.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(28, grads.Count);
        foreach (var g in grads)
        {
            Assert.True(g.Relative <= GradientRelativeTolerance, $"{name}: {g.Name} relative error {g.Relative:E2} > {GradientRelativeTolerance:E0}");
            Assert.True(g.MaxAbsReference > 0, $"{g.Name}: reference gradient is all zeros, the check would be vacuous");
        }
        output.WriteLine($"{name}: max gradient relative error {grads.Max(g => g.Relative):E2}");
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(data, $"trajectory_{name}.json")));
        double spread = json.RootElement.GetProperty("fp32_vs_fp64_max_abs").GetDouble();
        if (spread <= ReferenceWellConditioned)
        {
            AssertWithin(r, name, "trajectory.losses", TrajectoryTolerance);
            return model;
        }
        var fp64 = json.RootElement.GetProperty("losses_fp64").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var ours = r.Outputs["trajectory.losses"].Data;
        Assert.Equal(fp64.Length, ours.Length);
        double err = ours.Select((l, i) => Math.Abs(l - fp64[i])).Max();
        output.WriteLine($"{name}: reference fp32 vs fp64 spread {spread:E2}; ours vs fp64 trajectory max abs {err:E2}");
        Assert.True(err <= IllConditionedSpreadFraction * spread,
            $"{name}: trajectory vs the fp64 reference {err:E2} > torch fp32's own {spread:E2} (x{IllConditionedSpreadFraction})");
        return model;
    }

    private static void AssertWithin(ParityResult r, string variant, string name, double tolerance)
    {
        var c = Assert.Single(r.Comparisons, x => x.Name == name);
        Assert.True(c.MaxAbs <= tolerance, $"{variant}: {name} max abs error {c.MaxAbs:E2} > {tolerance:E0}");
    }
}
