// The AdamW step split so that a trainer can update its state in place, one chunk at a time: a norm graph
// over every gradient chunk (global norm, finite flag, clip coefficient), then one update graph run per chunk
// into a chunk-sized scratch that the trainer copies back. Together they compute exactly what Build computes
// when chunks equal its parameters (same ops, same order); a non-finite step is skipped by the trainer instead
// of guarded by Where. No segment-sized temporary exists: the largest is a few chunks. It owns no buffers.
// Shapes: N_c = chunk c's element count, n = any chunk's length (symbolic); all else is a scalar [].
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Optim;

public static class ChunkedOptimizerGraphs
{
    /// <summary>The name stem of the update and accumulate graphs' inputs and outputs ("chunk", "chunk_grad", …).</summary>
    public const string Chunk = "chunk";

    /// <summary>The symbolic length of the update and accumulate graphs' vectors.</summary>
    public const string Length = "n";

    /// <summary>
    /// Inputs grad_scale and, per chunk c, "&lt;c&gt;_grad" (N_c). Outputs grad_norm = ‖[‖g_0‖, ‖g_1‖, …]‖ of the
    /// scaled gradients g = grad · grad_scale, grad_finite (every g finite) and, when <see cref="AdamWOptions.MaxGradNorm"/>
    /// is set, clip_coef = min(max_norm / (grad_norm + 1e-6), 1) for <see cref="BuildUpdate"/>. Each chunk's
    /// temporaries die before the next chunk's are made.
    /// </summary>
    public static Model BuildNorm(IReadOnlyList<ParameterSpec> chunks, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (chunks.Count == 0)
        {
            throw new ArgumentException("the norm graph needs at least one chunk", nameof(chunks));
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in chunks.Where(c => !names.Add(c.Name)))
        {
            throw new ArgumentException($"chunk '{c.Name}' is listed twice", nameof(chunks));
        }
        var graph = new Graph { Name = "adamw_grad_norm" };
        var b = new GraphBuilder(graph, "/norm/");
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.GradScale, ElementType.Float));
        var norms = new string[chunks.Count];
        var zeroSums = new string[chunks.Count];
        for (int i = 0; i < chunks.Count; i++)
        {
            var grad = OptimizerNames.Grad(chunks[i].Name);
            graph.Inputs.Add(Graph.MakeValueInfo(grad, ElementType.Float, [chunks[i].ElementCount]));
            // g = grad · grad_scale (N_c); ‖g‖ (1); Σ g·0: 0 when every element is finite, NaN otherwise ()
            var g = b.Reshape(b.Mul(grad, OptimizerNames.GradScale), -1);
            norms[i] = b.Op("ReduceL2", [g], ("keepdims", 1L));
            zeroSums[i] = b.Op("ReduceSum", [b.Mul(g, b.Scalar(0f))], ("keepdims", 0L));
        }
        b.NodeWithOutputs("Equal", [OptimizerGraphBuilder.Sum(b, zeroSums), b.Scalar(0f)], [OptimizerNames.GradFinite]);
        var totalNorm = b.Op("ReduceL2", [b.Concat(0, norms)], ("keepdims", 0L));
        b.NodeWithOutputs("Identity", [totalNorm], [OptimizerNames.GradNorm]);
        graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.GradNorm, ElementType.Float));
        graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.GradFinite, ElementType.Bool));
        if (options.MaxGradNorm is { } maxNorm)
        {
            // clip_coef = max_norm / (total_norm + 1e-6), at most 1
            var coef = b.Div(b.Scalar(maxNorm), b.Add(totalNorm, b.Scalar(OptimizerGraphBuilder.ClipNormEpsilon)));
            b.NodeWithOutputs("Min", [coef, b.Scalar(1f)], [OptimizerNames.ClipCoef]);
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.ClipCoef, ElementType.Float));
        }
        return new Model(graph);
    }

    /// <summary>
    /// AdamW on one chunk. Inputs learning_rate, step, grad_scale, clip_coef (only when
    /// <see cref="AdamWOptions.MaxGradNorm"/> is set) and chunk, chunk_grad, chunk.exp_avg, chunk.exp_avg_sq (n);
    /// outputs chunk.new, chunk.exp_avg.new, chunk.exp_avg_sq.new (n). Run it only on steps whose grad_finite is true.
    /// </summary>
    public static Model BuildUpdate(AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var graph = new Graph { Name = "adamw_chunk_update" };
        var b = new GraphBuilder(graph, "/update/");
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.LearningRate, ElementType.Float));
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.Step, ElementType.Int64));
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.GradScale, ElementType.Float));
        if (options.MaxGradNorm is not null)
        {
            graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.ClipCoef, ElementType.Float));
        }
        string p = Chunk, m = OptimizerNames.ExpAvg(Chunk), v = OptimizerNames.ExpAvgSq(Chunk);
        foreach (var name in new[] { p, OptimizerNames.Grad(p), m, v })
        {
            graph.Inputs.Add(Graph.MakeValueInfo(name, ElementType.Float, Length));
        }
        // g = grad · grad_scale, then · clip_coef: the same two products Build takes                  (n)
        var g = b.Mul(OptimizerNames.Grad(p), OptimizerNames.GradScale);
        if (options.MaxGradNorm is not null)
        {
            g = b.Mul(g, OptimizerNames.ClipCoef);
        }
        var scalars = OptimizerGraphBuilder.StepScalars(b, options);
        OptimizerGraphBuilder.AddParameterUpdate(b, p, g, scalars, options,
            (OptimizerNames.Updated(p), OptimizerNames.Updated(m), OptimizerNames.Updated(v)));
        foreach (var name in new[] { p, m, v })
        {
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(name), ElementType.Float, Length));
        }
        return new Model(graph);
    }

    /// <summary>Gradient accumulation on one chunk: chunk_grad.acc.new = chunk_grad.acc + chunk_grad (n).</summary>
    public static Model BuildAccumulate()
    {
        var graph = new Graph { Name = "grad_accumulate_chunk" };
        var b = new GraphBuilder(graph, "/accumulate/");
        var acc = OptimizerNames.GradAccumulator(Chunk);
        var grad = OptimizerNames.Grad(Chunk);
        graph.Inputs.Add(Graph.MakeValueInfo(acc, ElementType.Float, Length));
        graph.Inputs.Add(Graph.MakeValueInfo(grad, ElementType.Float, Length));
        b.NodeWithOutputs("Add", [acc, grad], [OptimizerNames.Updated(acc)]);
        graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(acc), ElementType.Float, Length));
        return new Model(graph);
    }
}
