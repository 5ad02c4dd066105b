// Knobs of GradientBuilder.AddGradients. The defaults leave the graph's declared outputs alone:
// the caller decides which gradients become outputs (a trainer usually wants all of them).
namespace OnnxLora.Autodiff;

public sealed record GradientOptions
{
    /// <summary>Also declare every returned gradient as a graph output (typed like its wrt value).</summary>
    public bool AddOutputs { get; init; }

    /// <summary>Name prefix of the backward nodes, so they read apart from the forward graph.</summary>
    public string Scope { get; init; } = "/grad/";
}
