// The chunked AdamW pair (norm graph over every chunk, then one update run per chunk, written back in place
// by the caller) against the one-graph step OptimizerGraphBuilder.Build, whose torch agreement the builder's
// own tests establish: with chunks equal to the parameters the two give the same bits over several steps,
// clipping or not; cutting a parameter into chunks leaves an unclipped update bit-identical and moves the
// norm by rounding only; a non-finite gradient is reported so the caller can skip the step.
using OnnxLora.Autodiff.Optim;
using Xunit.Abstractions;

namespace OnnxLora.Autodiff.Tests.Optim;

public sealed class ChunkedOptimizerGraphsTests(ITestOutputHelper output)
{
    /// <summary>grad_norm of differently grouped chunks vs the one-graph norm (float32 summation order differs).</summary>
    private const double RegroupedNormRelTol = 1e-6;

    private const int Steps = 5;

    private static readonly ParameterSpec[] s_parameters = OptimizerGraphBuilderTests.s_parameters;

    [Theory]
    [InlineData(0.0, 0.0, 1.0)]
    [InlineData(0.01, 0.0, 0.5)]
    [InlineData(0.01, 1.0, 1.0)]
    [InlineData(0.1, 0.25, 0.5)]
    [InlineData(0.05, 1000.0, 0.5)]
    public void ChunksEqualToParametersGiveTheOneGraphStepBitForBit(double weightDecay, double maxNorm, float gradScale)
    {
        var options = new AdamWOptions(WeightDecay: (float)weightDecay, MaxGradNorm: maxNorm > 0 ? (float)maxNorm : null);
        var chunks = s_parameters.Select(s => new[] { (s, 0L, s.ElementCount) }).ToArray();
        using var reference = new OptimGraphRunner(OptimizerGraphBuilder.Build(s_parameters, options));
        using var chunked = new Chunked(chunks, options);
        var rng = new Random(99);
        var p = s_parameters.Select(s => Random(rng, s.ElementCount, 1f)).ToArray();
        var m = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var v = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var (pc, mc, vc) = (Clone(p), Clone(m), Clone(v));
        bool clipped = false;
        for (long t = 1; t <= Steps; t++)
        {
            float lr = 1e-2f / t;
            var grads = s_parameters.Select(s => Random(rng, s.ElementCount, (float)(0.1 + 3 * rng.NextDouble()))).ToArray();
            var want = reference.Run(OneGraphInputs(p, grads, m, v, lr, t, gradScale));
            var (norm, finite) = chunked.Step(pc, grads, mc, vc, lr, t, gradScale);

            Assert.True(finite);
            Assert.Equal(((float[])want[OptimizerNames.GradNorm])[0], norm);
            clipped |= options.MaxGradNorm is { } max && norm > max;
            AdoptReferenceAndCompare(want, t, p, m, v, pc, mc, vc);
        }
        Assert.Equal(maxNorm is > 0 and < 10, clipped); // the small limits clip, the large one and none do not
    }

    [Fact]
    public void ChunksCuttingParametersLeaveTheUnclippedUpdateBitIdenticalAndTheNormWithinRounding()
    {
        var options = new AdamWOptions(WeightDecay: 0.01f);
        // cube (105 values) in chunks of 40, 40 and 25; every other parameter whole
        var chunks = s_parameters.Select(s => s.Name == "cube"
            ? new[] { (s, 0L, 40L), (s, 40L, 40L), (s, 80L, 25L) }
            : [(s, 0L, s.ElementCount)]).ToArray();
        using var reference = new OptimGraphRunner(OptimizerGraphBuilder.Build(s_parameters, options));
        using var chunked = new Chunked(chunks, options);
        var rng = new Random(5);
        var p = s_parameters.Select(s => Random(rng, s.ElementCount, 1f)).ToArray();
        var zeros = s_parameters.Select(s => new float[s.ElementCount]).ToArray();
        var (m, v, pc, mc, vc) = (Clone(zeros), Clone(zeros), Clone(p), Clone(zeros), Clone(zeros));
        double worst = 0;
        for (long t = 1; t <= Steps; t++)
        {
            var grads = s_parameters.Select(s => Random(rng, s.ElementCount, 2f)).ToArray();
            var want = reference.Run(OneGraphInputs(p, grads, m, v, 1e-2f, t, 0.5f));
            var (norm, _) = chunked.Step(pc, grads, mc, vc, 1e-2f, t, 0.5f);
            float wantNorm = ((float[])want[OptimizerNames.GradNorm])[0];
            worst = Math.Max(worst, Math.Abs(norm - wantNorm) / wantNorm);
            AdoptReferenceAndCompare(want, t, p, m, v, pc, mc, vc);
        }
        output.WriteLine($"grad_norm of regrouped chunks vs one graph: max rel diff {worst:E2}");
        Assert.True(worst <= RegroupedNormRelTol, $"grad_norm moved by {worst:E2}");
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NaN)]
    [InlineData(1e30f)]
    public void NormGraphFlagsNonFiniteGradientsOnly(float value)
    {
        var chunks = s_parameters.Select(s => new[] { (s, 0L, s.ElementCount) }).ToArray();
        using var chunked = new Chunked(chunks, new AdamWOptions(MaxGradNorm: 1f));
        var rng = new Random(3);
        var grads = s_parameters.Select(s => Random(rng, s.ElementCount, 1f)).ToArray();
        grads[2][17] = value;
        var (_, finite) = chunked.Norm(grads, 0.5f);
        // Σg² overflows float32 for 1e30, but no element is inf or NaN: the step is not skipped
        Assert.Equal(float.IsFinite(value), finite);
    }

    [Fact]
    public void GraphsDeclareTheBindingNames()
    {
        var norm = ChunkedOptimizerGraphs.BuildNorm([new("chunk0", [6]), new("chunk1", [2])], new AdamWOptions(MaxGradNorm: 1f));
        Assert.Equal(["grad_scale", "chunk0_grad", "chunk1_grad"], norm.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(["grad_norm", "grad_finite", "clip_coef"], norm.Graph.Outputs.Select(o => o.Name));
        Assert.DoesNotContain(ChunkedOptimizerGraphs.BuildNorm([new("chunk0", [6])], new AdamWOptions()).Graph.Outputs, o => o.Name == "clip_coef");

        var update = ChunkedOptimizerGraphs.BuildUpdate(new AdamWOptions(MaxGradNorm: 1f));
        Assert.Equal(["learning_rate", "step", "grad_scale", "clip_coef", "chunk", "chunk_grad", "chunk.exp_avg", "chunk.exp_avg_sq"],
            update.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(["chunk.new", "chunk.exp_avg.new", "chunk.exp_avg_sq.new"], update.Graph.Outputs.Select(o => o.Name));
        Assert.DoesNotContain(ChunkedOptimizerGraphs.BuildUpdate(new AdamWOptions()).Graph.Inputs, i => i.Name == "clip_coef");
        Assert.DoesNotContain(update.Graph.Nodes, n => n.OpType == "Where"); // the caller skips non-finite steps
        Assert.Equal(["chunk_grad.acc", "chunk_grad"], ChunkedOptimizerGraphs.BuildAccumulate().Graph.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void AccumulateAddsOneChunk()
    {
        using var runner = new OptimGraphRunner(ChunkedOptimizerGraphs.BuildAccumulate());
        var rng = new Random(4);
        var acc = Random(rng, 7, 1f);
        var grad = Random(rng, 7, 1f);
        var sum = runner.Run(new Dictionary<string, (Array, long[])>(StringComparer.Ordinal)
        {
            ["chunk_grad.acc"] = (acc, [7]),
            ["chunk_grad"] = (grad, [7]),
        })["chunk_grad.acc.new"];
        Assert.Equal(acc.Zip(grad, (a, g) => a + g).ToArray(), (float[])sum);
    }

    /// <summary>
    /// The trainer's use of the pair, on host arrays: the norm graph over every chunk, then per chunk the update
    /// graph on that slice, its outputs copied back over the slice; nothing is updated when a gradient is not finite.
    /// </summary>
    private sealed class Chunked : IDisposable
    {
        private readonly (ParameterSpec Parameter, long Offset, long Length)[] _chunks;
        private readonly OptimGraphRunner _norm, _update;
        private readonly bool _clipping;

        public Chunked((ParameterSpec, long, long)[][] chunksPerParameter, AdamWOptions options)
        {
            _chunks = chunksPerParameter.SelectMany(c => c).ToArray();
            _norm = new OptimGraphRunner(ChunkedOptimizerGraphs.BuildNorm(
                _chunks.Select((c, i) => new ParameterSpec($"chunk{i}", [c.Length])).ToList(), options));
            _update = new OptimGraphRunner(ChunkedOptimizerGraphs.BuildUpdate(options));
            _clipping = options.MaxGradNorm is not null;
        }

        public (float Norm, bool Finite, float Clip) NormWithClip(float[][] grads, float gradScale)
        {
            var inputs = new Dictionary<string, (Array, long[])>(StringComparer.Ordinal) { [OptimizerNames.GradScale] = (new[] { gradScale }, []) };
            for (int i = 0; i < _chunks.Length; i++)
            {
                inputs[$"chunk{i}_grad"] = (Slice(grads, _chunks[i]), [_chunks[i].Length]);
            }
            var r = _norm.Run(inputs);
            return (((float[])r[OptimizerNames.GradNorm])[0], ((bool[])r[OptimizerNames.GradFinite])[0],
                _clipping ? ((float[])r[OptimizerNames.ClipCoef])[0] : float.NaN);
        }

        public (float Norm, bool Finite) Norm(float[][] grads, float gradScale)
        {
            var (norm, finite, _) = NormWithClip(grads, gradScale);
            return (norm, finite);
        }

        public (float Norm, bool Finite) Step(float[][] p, float[][] grads, float[][] m, float[][] v, float lr, long step, float gradScale)
        {
            var (norm, finite, clip) = NormWithClip(grads, gradScale);
            if (!finite)
            {
                return (norm, false);
            }
            foreach (var c in _chunks)
            {
                var inputs = new Dictionary<string, (Array, long[])>(StringComparer.Ordinal)
                {
                    [OptimizerNames.LearningRate] = (new[] { lr }, []),
                    [OptimizerNames.Step] = (new[] { step }, []),
                    [OptimizerNames.GradScale] = (new[] { gradScale }, []),
                    ["chunk"] = (Slice(p, c), [c.Length]),
                    ["chunk_grad"] = (Slice(grads, c), [c.Length]),
                    ["chunk.exp_avg"] = (Slice(m, c), [c.Length]),
                    ["chunk.exp_avg_sq"] = (Slice(v, c), [c.Length]),
                };
                if (_clipping)
                {
                    inputs[OptimizerNames.ClipCoef] = (new[] { clip }, []);
                }
                var r = _update.Run(inputs);
                int k = Array.IndexOf(s_parameters, c.Parameter);
                ((float[])r["chunk.new"]).CopyTo(p[k], c.Offset);
                ((float[])r["chunk.exp_avg.new"]).CopyTo(m[k], c.Offset);
                ((float[])r["chunk.exp_avg_sq.new"]).CopyTo(v[k], c.Offset);
            }
            return (norm, true);
        }

        private static float[] Slice(float[][] values, (ParameterSpec Parameter, long Offset, long Length) c) =>
            values[Array.IndexOf(s_parameters, c.Parameter)].AsSpan((int)c.Offset, (int)c.Length).ToArray();

        public void Dispose()
        {
            _norm.Dispose();
            _update.Dispose();
        }
    }

    private static Dictionary<string, (Array Data, long[] Shape)> OneGraphInputs(float[][] p, float[][] grads, float[][] m, float[][] v,
        float lr, long step, float gradScale) => OptimizerGraphBuilderTests.StepInputs(s_parameters, p, grads, m, v, lr, step, gradScale);

    private static float[] Random(Random rng, long n, float scale) =>
        Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();

    private static float[][] Clone(float[][] arrays) => arrays.Select(a => (float[])a.Clone()).ToArray();

    /// <summary>
    /// Takes the one-graph reference's updated parameters and moments as the next step's state and asserts the
    /// chunked run's own state equals them bit for bit.
    /// </summary>
    private static void AdoptReferenceAndCompare(Dictionary<string, Array> want, long t, float[][] p, float[][] m, float[][] v,
        float[][] pc, float[][] mc, float[][] vc)
    {
        for (int i = 0; i < s_parameters.Length; i++)
        {
            var name = s_parameters[i].Name;
            p[i] = (float[])want[OptimizerNames.Updated(name)];
            m[i] = (float[])want[OptimizerNames.Updated(OptimizerNames.ExpAvg(name))];
            v[i] = (float[])want[OptimizerNames.Updated(OptimizerNames.ExpAvgSq(name))];
            Assert.True(p[i].AsSpan().SequenceEqual(pc[i]), $"step {t} {name}: parameter differs");
            Assert.True(m[i].AsSpan().SequenceEqual(mc[i]), $"step {t} {name}: exp_avg differs");
            Assert.True(v[i].AsSpan().SequenceEqual(vc[i]), $"step {t} {name}: exp_avg_sq differs");
        }
    }
}
