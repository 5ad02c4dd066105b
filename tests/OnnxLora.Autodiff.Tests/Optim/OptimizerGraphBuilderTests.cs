// Runs the AdamW graph through ORT CPU for several steps, feeding outputs back as inputs,
// against the managed torch re-implementation (float32 and double), plus the skip-on-overflow,
// grad_norm, accumulation and argument-checking behaviours. No torch fixture is needed here.
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.Ir;
using Xunit.Abstractions;

namespace OnnxLora.Autodiff.Tests.Optim;

public sealed class OptimizerGraphBuilderTests(ITestOutputHelper output)
{
    /// <summary>Graph vs float32 reference, element by element (same op order, same norm fed in).</summary>
    private const double FloatReferenceRelTol = 1e-6;

    /// <summary>Graph vs all-double reference, relative to each tensor's largest magnitude: five steps
    /// of float32 rounding (torch's own float32 step drifts from exact math just as much).</summary>
    private const double DoubleReferenceRelTol = 4e-6;

    /// <summary>grad_norm vs the reference norm (summation order differs).</summary>
    private const double NormRelTol = 1e-6;

    /// <summary>Element-wise relative errors are taken against max(|ref|, this · max|ref| of the tensor).</summary>
    private const double RelFloorFraction = 1e-3;

    /// <summary>
    /// Against double the floor is the tensor's largest magnitude: float32 rounding of g - m near
    /// cancellation is legitimately large next to the small result, not a defect of the graph.
    /// </summary>
    private const double DoubleRelFloorFraction = 1.0;

    private const int Steps = 5;

    /// <summary>Parameters of every rank (2-D, 1-D, 3-D, scalar, a unit dimension); the chunked optimizer tests use them too.</summary>
    internal static readonly ParameterSpec[] s_parameters =
    [
        new("layers.0.q_proj.lora_A", [4, 8]),
        new("layers.0.q_proj.lora_B", [16]),
        new("cube", [3, 5, 7]),
        new("scalar", []),
        new("thin", [2, 1, 3]),
    ];

    [Theory]
    [InlineData(0.9, 0.999, 0.0, 0.0, 1.0)]
    [InlineData(0.9, 0.999, 0.01, 0.0, 1.0)]
    [InlineData(0.9, 0.999, 0.01, 1.0, 1.0)]
    [InlineData(0.9, 0.999, 0.0, 1.0, 0.5)]
    [InlineData(0.9, 0.999, 0.01, 0.0, 0.5)]
    [InlineData(0.9, 0.999, 0.1, 1000.0, 0.5)]
    [InlineData(0.3, 0.95, 0.05, 2.0, 0.5)]
    public void MatchesTorchReferenceOverFiveSteps(double beta1, double beta2, double weightDecay, double maxNorm, float gradScale)
    {
        double? max = maxNorm > 0 ? maxNorm : null;
        var options = new AdamWOptions((float)beta1, (float)beta2, 1e-8f, (float)weightDecay, max is null ? null : (float)max.Value);
        var reference = new AdamWReference(beta1, beta2, 1e-8, weightDecay, max);
        using var runner = new OptimGraphRunner(OptimizerGraphBuilder.Build(s_parameters, options));

        var rng = new Random(1234);
        var p = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
        var m = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var v = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var pF = Clone(p);
        var mF = Clone(m);
        var vF = Clone(v);
        var pD = p.Select(x => x.Select(e => (double)e).ToArray()).ToArray();
        var mD = m.Select(x => new double[x.Length]).ToArray();
        var vD = v.Select(x => new double[x.Length]).ToArray();

        string worstDoubleAt = "";
        double worstFloat = 0, worstDouble = 0, worstDoubleElementwise = 0, worstNorm = 0;
        for (long t = 1; t <= Steps; t++)
        {
            float lr = 1e-2f * (1f - 0.1f * t);
            var grads = s_parameters.Select(s => RandomArray(rng, s, (float)(0.1 + 3 * rng.NextDouble()))).ToArray();
            var outputs = runner.Run(StepInputs(p, grads, m, v, lr, t, gradScale));
            float norm = ((float[])outputs[OptimizerNames.GradNorm])[0];
            var (normF, finiteF) = reference.StepFloat(pF, grads, mF, vF, lr, t, gradScale, normOverride: norm);
            var (normD, _) = reference.StepDouble(pD, grads, mD, vD, lr, t, gradScale);

            Assert.True(finiteF);
            Assert.Equal([true], (bool[])outputs[OptimizerNames.GradFinite]);
            worstNorm = Math.Max(worstNorm, Math.Abs(norm - normD) / normD);
            Assert.True(Math.Abs(norm - normF) <= NormRelTol * normF, $"step {t}: grad_norm {norm} vs reference {normF}");

            for (int i = 0; i < s_parameters.Length; i++)
            {
                var name = s_parameters[i].Name;
                p[i] = (float[])outputs[OptimizerNames.Updated(name)];
                m[i] = (float[])outputs[OptimizerNames.Updated(OptimizerNames.ExpAvg(name))];
                v[i] = (float[])outputs[OptimizerNames.Updated(OptimizerNames.ExpAvgSq(name))];
                foreach (var (label, got, want, wantD) in new[] { ("param", p[i], pF[i], pD[i]), ("exp_avg", m[i], mF[i], mD[i]), ("exp_avg_sq", v[i], vF[i], vD[i]) })
                {
                    double errF = MaxRelativeError(got, want.Select(e => (double)e).ToArray(), RelFloorFraction);
                    double errD = MaxRelativeError(got, wantD, DoubleRelFloorFraction);
                    worstDoubleElementwise = Math.Max(worstDoubleElementwise, MaxRelativeError(got, wantD, RelFloorFraction));
                    worstFloat = Math.Max(worstFloat, errF);
                    if (errD > worstDouble)
                    {
                        worstDouble = errD;
                        worstDoubleAt = $"{name} {label} step {t}";
                    }
                    Assert.True(errF <= FloatReferenceRelTol, $"step {t} {name} {label}: rel err {errF:E3} vs float32 reference");
                    Assert.True(errD <= DoubleReferenceRelTol, $"step {t} {name} {label}: rel err {errD:E3} vs double reference");
                }
            }
        }
        output.WriteLine($"max rel err vs float32 ref {worstFloat:E3}, vs double ref {worstDouble:E3} at {worstDoubleAt} (elementwise {worstDoubleElementwise:E3}), grad_norm vs double {worstNorm:E3}");
    }

    [Theory]
    [InlineData(float.PositiveInfinity, 0.0)]
    [InlineData(float.NegativeInfinity, 1.0)]
    [InlineData(float.NaN, 0.0)]
    [InlineData(float.NaN, 1.0)]
    public void NonFiniteGradientLeavesParamsAndMomentsUnchanged(float bad, double maxNorm)
    {
        var options = new AdamWOptions(WeightDecay: 0.01f, MaxGradNorm: maxNorm > 0 ? (float)maxNorm : null);
        using var runner = new OptimGraphRunner(OptimizerGraphBuilder.Build(s_parameters, options));
        var rng = new Random(7);
        var p = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
        var m = s_parameters.Select(s => RandomArray(rng, s, 0.1f)).ToArray();
        var v = s_parameters.Select(s => RandomArray(rng, s, 0.1f).Select(MathF.Abs).ToArray()).ToArray();
        var grads = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
        grads[2][17] = bad;

        var outputs = runner.Run(StepInputs(p, grads, m, v, 1e-2f, 3, 0.5f));

        Assert.Equal([false], (bool[])outputs[OptimizerNames.GradFinite]);
        for (int i = 0; i < s_parameters.Length; i++)
        {
            var name = s_parameters[i].Name;
            Assert.Equal(p[i], (float[])outputs[OptimizerNames.Updated(name)]);
            Assert.Equal(m[i], (float[])outputs[OptimizerNames.Updated(OptimizerNames.ExpAvg(name))]);
            Assert.Equal(v[i], (float[])outputs[OptimizerNames.Updated(OptimizerNames.ExpAvgSq(name))]);
        }
    }

    [Fact]
    public void HugeFiniteGradientIsStillReportedFinite()
    {
        // Σg² overflows float32 here, but no element is inf or NaN, so the step is not skipped.
        using var runner = new OptimGraphRunner(OptimizerGraphBuilder.BuildWithoutClipping(s_parameters, new AdamWOptions()));
        var rng = new Random(8);
        var p = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
        var zeros = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var grads = s_parameters.Select(s => Enumerable.Repeat(1e30f, (int)s.ElementCount).ToArray()).ToArray();

        var outputs = runner.Run(StepInputs(p, grads, zeros, zeros, 1e-3f, 1, 1f));

        Assert.Equal([true], (bool[])outputs[OptimizerNames.GradFinite]);
    }

    [Fact]
    public void GradNormIsTheScaledNormBeforeClipping()
    {
        var options = new AdamWOptions(MaxGradNorm: 0.25f);
        using var runner = new OptimGraphRunner(OptimizerGraphBuilder.Build(s_parameters, options));
        var rng = new Random(9);
        var p = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
        var zeros = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var grads = s_parameters.Select(s => RandomArray(rng, s, 2f)).ToArray();
        double expected = 0.5 * Math.Sqrt(grads.Sum(g => g.Sum(e => (double)e * e)));

        var outputs = runner.Run(StepInputs(p, grads, zeros, zeros, 1e-3f, 1, 0.5f));

        float norm = ((float[])outputs[OptimizerNames.GradNorm])[0];
        output.WriteLine($"grad_norm {norm} reference {expected} rel err {Math.Abs(norm - expected) / expected:E3}");
        Assert.True(expected > 0.25 * 10, "the clip must engage for this test to mean something");
        Assert.True(Math.Abs(norm - expected) <= NormRelTol * expected, $"grad_norm {norm} vs reference {expected}");

        // From zero moments exp_avg.new = (1 - beta1)·clipped g, so its norm shows the clip: 0.1 · 0.25.
        double clippedNorm = Math.Sqrt(s_parameters.Sum(s => ((float[])outputs[OptimizerNames.Updated(OptimizerNames.ExpAvg(s.Name))]).Sum(e => (double)e * e)));
        double expectedClipped = 0.1 * 0.25 * expected / (expected + 1e-6);
        Assert.True(Math.Abs(clippedNorm - expectedClipped) <= NormRelTol * expectedClipped, $"clipped exp_avg norm {clippedNorm} vs {expectedClipped}");
    }

    [Fact]
    public void AccumulateAddsMicroBatchGradients()
    {
        using var runner = new OptimGraphRunner(OptimizerGraphBuilder.BuildAccumulate(s_parameters));
        var rng = new Random(10);
        var acc = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var expected = Clone(acc);
        for (int micro = 0; micro < 3; micro++)
        {
            var grads = s_parameters.Select(s => RandomArray(rng, s, 1f)).ToArray();
            var inputs = new Dictionary<string, (Array, long[])>(StringComparer.Ordinal);
            for (int i = 0; i < s_parameters.Length; i++)
            {
                inputs[OptimizerNames.GradAccumulator(s_parameters[i].Name)] = (acc[i], s_parameters[i].Shape);
                inputs[OptimizerNames.Grad(s_parameters[i].Name)] = (grads[i], s_parameters[i].Shape);
                for (int k = 0; k < expected[i].Length; k++)
                {
                    expected[i][k] += grads[i][k];
                }
            }
            var outputs = runner.Run(inputs);
            for (int i = 0; i < s_parameters.Length; i++)
            {
                acc[i] = (float[])outputs[OptimizerNames.Updated(OptimizerNames.GradAccumulator(s_parameters[i].Name))];
                Assert.Equal(expected[i], acc[i]);
            }
        }
    }

    [Fact]
    public void GraphDeclaresTheBindingNames()
    {
        var spec = new ParameterSpec("w", [2, 3]);
        var model = OptimizerGraphBuilder.Build([spec], new AdamWOptions(MaxGradNorm: 1f));

        Assert.Equal(["learning_rate", "step", "grad_scale", "w", "w_grad", "w.exp_avg", "w.exp_avg_sq"],
            model.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(["w.new", "w.exp_avg.new", "w.exp_avg_sq.new", "grad_norm", "grad_finite"],
            model.Graph.Outputs.Select(o => o.Name));
        Assert.Equal(new TensorType(ElementType.Int64, []), Graph.TypeOf(model.Graph.Inputs[1]));
        Assert.Equal(ElementType.Bool, Graph.TypeOf(model.Graph.Outputs[^1]).Element);
        Assert.Equal(["w_grad.acc", "w_grad"], OptimizerGraphBuilder.BuildAccumulate([spec]).Graph.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void BuildWithoutClippingHasNoClipNodes()
    {
        var options = new AdamWOptions(MaxGradNorm: 1f);
        Assert.Contains(OptimizerGraphBuilder.Build(s_parameters, options).Graph.Nodes, n => n.OpType == "Min");
        Assert.DoesNotContain(OptimizerGraphBuilder.BuildWithoutClipping(s_parameters, options).Graph.Nodes, n => n.OpType == "Min");
    }

    [Fact]
    public void ThrowsForCollidingNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => OptimizerGraphBuilder.Build([new("a", [2]), new("a_grad", [2])], new AdamWOptions()));
        Assert.Contains("a_grad", ex.Message);
        Assert.Throws<ArgumentException>(() => OptimizerGraphBuilder.Build([new("step", [1])], new AdamWOptions()));
        Assert.Throws<ArgumentException>(() => OptimizerGraphBuilder.BuildAccumulate([new("a", [2]), new("a", [2])]));
        Assert.Throws<ArgumentException>(() => OptimizerGraphBuilder.Build([], new AdamWOptions()));
    }

    [Fact]
    public void ThrowsForOptionsOutsideTorchRanges()
    {
        ParameterSpec[] one = [new("a", [2])];
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerGraphBuilder.Build(one, new AdamWOptions(Beta1: 1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerGraphBuilder.Build(one, new AdamWOptions(Beta2: -0.1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerGraphBuilder.Build(one, new AdamWOptions(Epsilon: float.NaN)));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerGraphBuilder.Build(one, new AdamWOptions(WeightDecay: -1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerGraphBuilder.Build(one, new AdamWOptions(MaxGradNorm: 0f)));
    }

    private static Dictionary<string, (Array Data, long[] Shape)> StepInputs(float[][] p, float[][] grads, float[][] m, float[][] v,
        float lr, long step, float gradScale) => StepInputs(s_parameters, p, grads, m, v, lr, step, gradScale);

    /// <summary>The one-graph AdamW step's feeds for <paramref name="parameters"/> (also the chunked optimizer's reference).</summary>
    internal static Dictionary<string, (Array Data, long[] Shape)> StepInputs(ParameterSpec[] parameters, float[][] p, float[][] grads,
        float[][] m, float[][] v, float lr, long step, float gradScale)
    {
        var inputs = new Dictionary<string, (Array, long[])>(StringComparer.Ordinal)
        {
            [OptimizerNames.LearningRate] = (new[] { lr }, []),
            [OptimizerNames.Step] = (new[] { step }, []),
            [OptimizerNames.GradScale] = (new[] { gradScale }, []),
        };
        for (int i = 0; i < parameters.Length; i++)
        {
            var (name, shape) = (parameters[i].Name, parameters[i].Shape);
            inputs[name] = (p[i], shape);
            inputs[OptimizerNames.Grad(name)] = (grads[i], shape);
            inputs[OptimizerNames.ExpAvg(name)] = (m[i], shape);
            inputs[OptimizerNames.ExpAvgSq(name)] = (v[i], shape);
        }
        return inputs;
    }

    private static float[] RandomArray(Random rng, ParameterSpec spec, float scale) =>
        Enumerable.Range(0, (int)spec.ElementCount).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static float[][] Clone(float[][] arrays) => arrays.Select(a => (float[])a.Clone()).ToArray();

    private static double MaxRelativeError(float[] got, double[] want, double floorFraction)
    {
        double floor = floorFraction * want.Select(Math.Abs).DefaultIfEmpty(0).Max();
        double worst = 0;
        for (int k = 0; k < want.Length; k++)
        {
            double scale = Math.Max(Math.Abs(want[k]), floor);
            double err = Math.Abs(got[k] - want[k]);
            worst = Math.Max(worst, scale == 0 ? err : err / scale);
        }
        return worst;
    }
}
