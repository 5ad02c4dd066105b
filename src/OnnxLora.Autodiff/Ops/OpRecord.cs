// Everything the autodiff knows about one op, in one record: its gradient rule, shape and element-type
// rules, where its gradients come back (Broadcasting), whether it is elementwise and whether it is a
// view. Records live in the family files (ElementwiseOps, ShapeOps, …) next to their gradient rules;
// OpRegistry collects them. A record holds rules only; it never looks at other nodes.
using OnnxLora.Autodiff.Shapes;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Ops;

internal sealed record OpRecord(OpKey Key)
{
    /// <summary>A standard-domain op.</summary>
    public OpRecord(string opType)
        : this(new OpKey("", opType))
    {
    }

    /// <summary>
    /// The gradient rule: given the node's context, one gradient per input (null where not required). Null means
    /// the op has no rule; differentiating through it fails, naming the op and the node.
    /// </summary>
    public GradientRule? Gradient { get; init; }

    /// <summary>
    /// True for a node none of whose outputs carries a gradient, whatever its inputs (shape, comparison, index
    /// ops; Cast to an integer type). The builder never walks through such a node.
    /// </summary>
    public Func<Node, bool> StopsGradient { get; init; } = static _ => false;

    /// <summary>Output shapes (see <see cref="ShapeRule"/>); null proves nothing.</summary>
    public ShapeRule? Shape { get; init; }

    /// <summary>Output element types (see <see cref="TypeRule"/>); null proves nothing.</summary>
    public TypeRule? Type { get; init; }

    /// <summary>Whether the gradient rule returns input gradients at a broadcast shape, reduced centrally.</summary>
    public GradientBroadcast Broadcast { get; init; }

    /// <summary>
    /// Output element i is a function of the aligned input elements only (after broadcasting): an input whose
    /// shape provably equals the output's stands in for the output where only its shape is read.
    /// </summary>
    public bool Elementwise { get; init; }

    /// <summary>Output 0 shares input 0's buffer in ORT (Reshape, Squeeze, …): a saved view costs its source, once.</summary>
    public bool IsView { get; init; }

    /// <summary>For <see cref="StopsGradient"/>: every node of the op.</summary>
    public static bool Always(Node node) => true;
}
