// The naming convention that marks forward nodes as cheap to recompute: a graph rewrite builds them
// under a scope ending in "recompute/", and the gradient builder may then recompute their outputs in
// the backward pass instead of keeping them alive (see OnnxLora.Autodiff.Rematerializer).
namespace OnnxLora.Onnx.Ir;

public static class Recomputation
{
    /// <summary>Scope segment to append to a builder's scope for recomputable nodes.</summary>
    public const string Scope = "recompute/";

    public static bool IsMarked(Node node) => node.Name.Contains("/" + Scope, StringComparison.Ordinal);
}
