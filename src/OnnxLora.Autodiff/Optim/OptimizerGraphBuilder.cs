// Builds the AdamW step (torch.optim.AdamW, single-tensor, non-amsgrad) and the gradient
// accumulator as ONNX graphs of standard opset-21 ops, for a plain ORT InferenceSession.
// It does not own buffers or count steps; the trainer binds inputs and feeds "x.new" back to "x".
// Shapes: P = the parameter's own shape, N = its element count; all else is a scalar [].
using System.Globalization;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Optim;

public static class OptimizerGraphBuilder
{
    /// <summary>torch.nn.utils.clip_grad_norm_ adds this to the total norm before dividing.</summary>
    public const float ClipNormEpsilon = 1e-6f;

    /// <summary>
    /// One AdamW step for all <paramref name="parameters"/>. Inputs: learning_rate, step, grad_scale
    /// and per parameter p, p_grad, p.exp_avg, p.exp_avg_sq. Outputs: p.new, p.exp_avg.new,
    /// p.exp_avg_sq.new, grad_norm, grad_finite. When any scaled gradient is not finite every
    /// output equals its input (the step is skipped, as GradScaler does on fp16 overflow).
    /// </summary>
    public static Model Build(IReadOnlyList<ParameterSpec> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckNames(parameters, accumulate: false);

        var graph = new Graph { Name = "adamw_step" };
        var b = new GraphBuilder(graph, "/optim/");
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.LearningRate, ElementType.Float));
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.Step, ElementType.Int64));
        graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.GradScale, ElementType.Float));
        foreach (var p in parameters)
        {
            var dims = Dims(p);
            graph.Inputs.Add(Graph.MakeValueInfo(p.Name, ElementType.Float, dims));
            graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.Grad(p.Name), ElementType.Float, dims));
            graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.ExpAvg(p.Name), ElementType.Float, dims));
            graph.Inputs.Add(Graph.MakeValueInfo(OptimizerNames.ExpAvgSq(p.Name), ElementType.Float, dims));
        }

        // g = grad · grad_scale                                                         (P)
        var grads = parameters.Select(p => b.Mul(OptimizerNames.Grad(p.Name), OptimizerNames.GradScale)).ToArray();

        // grad_finite: Σ g·0 is 0 when every element is finite and NaN otherwise; it cannot overflow.
        var flat = grads.Select(g => b.Reshape(g, -1)).ToArray();                     // (N)
        var zeroSums = flat.Select(g => b.Op("ReduceSum", [b.Mul(g, b.Scalar(0f))], ("keepdims", 0L))).ToArray();
        b.NodeWithOutputs("Equal", [Sum(b, zeroSums), b.Scalar(0f)], [OptimizerNames.GradFinite]);

        // grad_norm = ‖[‖g_0‖, ‖g_1‖, …]‖ as clip_grad_norm_ stacks per-tensor norms     ()
        var norms = flat.Select(g => b.Op("ReduceL2", [g], ("keepdims", 1L))).ToArray(); // (1)
        var totalNorm = b.Op("ReduceL2", [b.Concat(0, norms)], ("keepdims", 0L));
        b.NodeWithOutputs("Identity", [totalNorm], [OptimizerNames.GradNorm]);

        if (options.MaxGradNorm is { } maxNorm)
        {
            // clip_coef = max_norm / (total_norm + 1e-6); g *= min(clip_coef, 1)
            var coef = b.Div(b.Scalar(maxNorm), b.Add(totalNorm, b.Scalar(ClipNormEpsilon)));
            var clamped = b.Op("Min", coef, b.Scalar(1f));
            grads = grads.Select(g => b.Mul(g, clamped)).ToArray();
        }

        var scalars = StepScalars(b, options);
        for (int i = 0; i < parameters.Count; i++)
        {
            b.Scope = "/optim/" + parameters[i].Name + "/";
            var p = parameters[i].Name;
            var (pNew, mNew, vNew) = AddParameterUpdate(b, p, grads[i], scalars, options, outputs: null);
            // grad_finite ? new : old
            var (m, v) = (OptimizerNames.ExpAvg(p), OptimizerNames.ExpAvgSq(p));
            b.NodeWithOutputs("Where", [OptimizerNames.GradFinite, pNew, p], [OptimizerNames.Updated(p)]);
            b.NodeWithOutputs("Where", [OptimizerNames.GradFinite, mNew, m], [OptimizerNames.Updated(m)]);
            b.NodeWithOutputs("Where", [OptimizerNames.GradFinite, vNew, v], [OptimizerNames.Updated(v)]);
        }

        foreach (var p in parameters)
        {
            var dims = Dims(p);
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(p.Name), ElementType.Float, dims));
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(OptimizerNames.ExpAvg(p.Name)), ElementType.Float, dims));
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(OptimizerNames.ExpAvgSq(p.Name)), ElementType.Float, dims));
        }
        graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.GradNorm, ElementType.Float));
        graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.GradFinite, ElementType.Bool));
        return new Model(graph);
    }

    /// <summary>The same step with clipping left out, whatever <see cref="AdamWOptions.MaxGradNorm"/> says.</summary>
    public static Model BuildWithoutClipping(IReadOnlyList<ParameterSpec> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Build(parameters, options with { MaxGradNorm = null });
    }

    /// <summary>
    /// Gradient accumulation over micro-batches: p_grad.acc.new = p_grad.acc + p_grad per parameter.
    /// Average by passing grad_scale = 1/accum to the optimizer step.
    /// </summary>
    public static Model BuildAccumulate(IReadOnlyList<ParameterSpec> parameters)
    {
        CheckNames(parameters, accumulate: true);
        var graph = new Graph { Name = "grad_accumulate" };
        var b = new GraphBuilder(graph, "/accumulate/");
        foreach (var p in parameters)
        {
            var dims = Dims(p);
            var acc = OptimizerNames.GradAccumulator(p.Name);
            var grad = OptimizerNames.Grad(p.Name);
            graph.Inputs.Add(Graph.MakeValueInfo(acc, ElementType.Float, dims));
            graph.Inputs.Add(Graph.MakeValueInfo(grad, ElementType.Float, dims));
            b.NodeWithOutputs("Add", [acc, grad], [OptimizerNames.Updated(acc)]);
            graph.Outputs.Add(Graph.MakeValueInfo(OptimizerNames.Updated(acc), ElementType.Float, dims));
        }
        return new Model(graph);
    }

    /// <summary>The per-step scalars, computed once and shared by every parameter's update.</summary>
    internal sealed record StepScalarValues(string Decay, string StepSize, string BiasCorrection2Sqrt);

    // torch computes these from Python floats (double) and casts to float32 where they meet a
    // tensor; we do the same in double. Options are read as the decimal they print as
    // (0.999f → 0.999), so betas=(0.9, 0.999) give torch's bias corrections, not float's.
    internal static StepScalarValues StepScalars(GraphBuilder b, AdamWOptions o)
    {
        var lr = b.Cast(OptimizerNames.LearningRate, ElementType.Double);
        var t = b.Cast(OptimizerNames.Step, ElementType.Double);
        var one = DoubleScalar(b, 1.0);
        // bias_correction1 = 1 - beta1^t; step_size = lr / bias_correction1
        var bc1 = b.Sub(one, b.Pow(DoubleScalar(b, Widen(o.Beta1)), t));
        var stepSize = b.Cast(b.Div(lr, bc1), ElementType.Float);
        // bias_correction2_sqrt = sqrt(1 - beta2^t)
        var bc2 = b.Sub(one, b.Pow(DoubleScalar(b, Widen(o.Beta2)), t));
        var bc2Sqrt = b.Cast(b.Sqrt(bc2), ElementType.Float);
        // p.mul_(1 - lr·wd)
        var decay = b.Cast(b.Sub(one, b.Mul(lr, DoubleScalar(b, Widen(o.WeightDecay)))), ElementType.Float);
        return new StepScalarValues(decay, stepSize, bc2Sqrt);
    }

    /// <summary>
    /// torch's _single_tensor_adamw body for one parameter: the new parameter and moments. With
    /// <paramref name="outputs"/> the last node of each chain writes straight into those names; without, they
    /// are fresh values (Build guards them with grad_finite).
    /// </summary>
    internal static (string P, string M, string V) AddParameterUpdate(GraphBuilder b, string name, string g, StepScalarValues s,
        AdamWOptions o, (string P, string M, string V)? outputs)
    {
        var p = name;                                  // (P)
        var m = OptimizerNames.ExpAvg(name);           // (P)
        var v = OptimizerNames.ExpAvgSq(name);         // (P)
        string Last(string op, string x, string y, string? output) =>
            output is null ? b.Op(op, x, y) : b.NodeWithOutputs(op, [x, y], [output]).Outputs[0];

        // param.mul_(1 - lr * weight_decay)
        var decayed = o.WeightDecay == 0f ? p : b.Mul(p, s.Decay);

        // exp_avg.lerp_(grad, 1 - beta1): weight < 0.5 ? m + w·(g - m) : g - (g - m)·(1 - w)
        float w = (float)(1.0 - Widen(o.Beta1));
        var mNew = w < 0.5f
            ? Last("Add", m, b.Mul(b.Scalar(w), b.Sub(g, m)), outputs?.M)
            : Last("Sub", g, b.Mul(b.Sub(g, m), b.Scalar(1f - w)), outputs?.M);

        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        var vNew = Last("Add", b.Mul(v, b.Scalar(o.Beta2)), b.Mul(b.Mul(b.Scalar((float)(1.0 - Widen(o.Beta2))), g), g), outputs?.V);

        // denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + eps
        var denom = b.Add(b.Div(b.Sqrt(vNew), s.BiasCorrection2Sqrt), b.Scalar(o.Epsilon));

        // param.addcdiv_(exp_avg, denom, value=-step_size)  ≡  p - (step_size·m) / denom
        var pNew = Last("Sub", decayed, b.Div(b.Mul(s.StepSize, mNew), denom), outputs?.P);
        return (pNew, mNew, vNew);
    }

    internal static string Sum(GraphBuilder b, string[] values)
    {
        var total = values[0];
        for (int i = 1; i < values.Length; i++)
        {
            total = b.Add(total, values[i]);
        }
        return total;
    }

    private static string DoubleScalar(GraphBuilder b, double value) =>
        b.AddInitializer(new Initializer("", ElementType.Double, [], TensorData.FromBytes(BitConverter.GetBytes(value))));

    /// <summary>The double a float was meant to be: the shortest decimal that round-trips it.</summary>
    private static double Widen(float value) =>
        double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static Dim[] Dims(ParameterSpec p) => p.Shape.Select(d => (Dim)d).ToArray();

    private static void CheckNames(IReadOnlyList<ParameterSpec> parameters, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0)
        {
            throw new ArgumentException("the optimizer needs at least one parameter", nameof(parameters));
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (!accumulate)
        {
            seen.UnionWith([OptimizerNames.LearningRate, OptimizerNames.Step, OptimizerNames.GradScale,
                OptimizerNames.GradNorm, OptimizerNames.GradFinite]);
        }
        foreach (var p in parameters)
        {
            ArgumentNullException.ThrowIfNull(p);
            if (string.IsNullOrEmpty(p.Name))
            {
                throw new ArgumentException("a parameter has an empty name", nameof(parameters));
            }
            if (p.Shape is null || p.Shape.Any(d => d < 0))
            {
                throw new ArgumentException($"parameter '{p.Name}' has no fixed, non-negative shape", nameof(parameters));
            }
            string[] names = accumulate
                ? [OptimizerNames.Grad(p.Name), OptimizerNames.GradAccumulator(p.Name), OptimizerNames.Updated(OptimizerNames.GradAccumulator(p.Name))]
                : [p.Name, OptimizerNames.Grad(p.Name), OptimizerNames.ExpAvg(p.Name), OptimizerNames.ExpAvgSq(p.Name),
                   OptimizerNames.Updated(p.Name), OptimizerNames.Updated(OptimizerNames.ExpAvg(p.Name)),
                   OptimizerNames.Updated(OptimizerNames.ExpAvgSq(p.Name))];
            foreach (var n in names)
            {
                if (!seen.Add(n))
                {
                    throw new ArgumentException($"parameter '{p.Name}': graph value name '{n}' is used twice", nameof(parameters));
                }
            }
        }
    }
}
