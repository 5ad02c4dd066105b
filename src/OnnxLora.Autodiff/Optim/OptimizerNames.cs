// The graph input/output names of the optimizer and accumulator graphs, in one place, so a
// trainer binds OrtValues by name and ping-pongs buffers: every "x.new" output feeds "x" next step.
namespace OnnxLora.Autodiff.Optim;

public static class OptimizerNames
{
    /// <summary>float32 scalar [] input.</summary>
    public const string LearningRate = "learning_rate";

    /// <summary>int64 scalar [] input: the 1-based step t after increment (bias correction).</summary>
    public const string Step = "step";

    /// <summary>float32 scalar [] input: gradients are multiplied by it first (1/accum, 1/loss-scale).</summary>
    public const string GradScale = "grad_scale";

    /// <summary>float32 scalar [] output: global L2 norm of the scaled gradients, before clipping.</summary>
    public const string GradNorm = "grad_norm";

    /// <summary>bool scalar [] output: every scaled gradient element is finite (false = step skipped).</summary>
    public const string GradFinite = "grad_finite";

    /// <summary>float32 scalar []: min(max_norm / (grad_norm + 1e-6), 1), the chunked norm graph's output and update graph's input.</summary>
    public const string ClipCoef = "clip_coef";

    public const string NewSuffix = ".new";

    /// <summary>The one parameter of the flat optimizer graphs: every trainable value laid end to end.</summary>
    public const string Flat = "flat";

    public static string Grad(string parameter) => parameter + "_grad";

    public static string ExpAvg(string parameter) => parameter + ".exp_avg";

    public static string ExpAvgSq(string parameter) => parameter + ".exp_avg_sq";

    /// <summary>Running gradient sum of the accumulator graph: "p_grad.acc".</summary>
    public static string GradAccumulator(string parameter) => Grad(parameter) + ".acc";

    /// <summary>The output that replaces an input after one run: "x" → "x.new".</summary>
    public static string Updated(string value) => value + NewSuffix;
}
