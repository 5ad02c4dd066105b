// The one registry of ops the autodiff knows, keyed on (domain, op type): each op's gradient rule,
// shape and element-type rules, broadcasting and view flag, read by GradientBuilder, ShapeInference,
// Broadcasting, ReduceGradient and SavedActivations. An op without a record has no gradient (the
// builder fails, naming op and node) and proves no shape or type (inference answers null).
//
// Constants in rules are float32 (g.Scalar, g.One, g.Zero). In fp16/bf16 graphs
// (GradientOptions.LowPrecision) they are emitted through CastLike to the gradient's type, so no
// cast pass is needed; rules that build other constants must type them the same way.
//
// How to add an op (standard or contrib):
//   1. Add one record to the family file it belongs to (ElementwiseOps, LogicOps, ReductionOps,
//      ShapeOps, IndexOps, MatMulOps, LossOps), next to its relatives. A contrib op names its domain:
//          // Y = MatMulNBits(A, B_q4, scales, ...) = A @ dequant(B)ᵀ;  dA = GY @ dequant(B)
//          new(new OpKey(Model.MicrosoftDomain, "MatMulNBits"))
//          {
//              Gradient = static g => [g.Need(0, () => ...), null, null, null],
//              Shape = ...,                 // a ShapeRule; a long one goes to ShapeRules
//              Type = TypeRules.FromInput0,
//          },
//      Set Broadcast when the rule returns gradients at a broadcast shape, Elementwise and IsView where
//      true, StopsGradient for ops no gradient flows through. A rule longer than ~30 lines goes to a
//      *Gradient helper class, split by case. A new family file is also listed in s_records below.
//   2. Add one finite-difference test of the rule (GradientCheck), in the family's test file.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Ops;

internal static class OpRegistry
{
    private static readonly Dictionary<OpKey, OpRecord> s_records = Collect(
        ElementwiseOps.Records, LogicOps.Records, ReductionOps.Records, ShapeOps.Records, IndexOps.Records, MatMulOps.Records, LossOps.Records);

    /// <summary>Every record, for tests and listings.</summary>
    public static IReadOnlyCollection<OpRecord> All => s_records.Values;

    public static OpRecord? Find(OpKey key) => s_records.GetValueOrDefault(key);

    public static OpRecord? Find(Node node) => Find(OpKey.Of(node));

    /// <summary>The node's gradient rule; throws, naming the op and the node, when its op has none.</summary>
    public static GradientRule GradientOf(Node node) =>
        Find(node)?.Gradient ?? throw new BadInputException($"no gradient rule for op '{OpKey.Of(node)}' (node '{node.Name}')");

    /// <summary>True when no output of the node carries a gradient, whatever its inputs.</summary>
    public static bool StopsGradient(Node node) => Find(node) is { } r && r.StopsGradient(node);

    private static Dictionary<OpKey, OpRecord> Collect(params OpRecord[][] families)
    {
        var records = new Dictionary<OpKey, OpRecord>();
        foreach (var r in families.SelectMany(f => f))
        {
            if (!records.TryAdd(r.Key, r))
            {
                throw new InvalidOperationException($"op '{r.Key}' has two records");
            }
        }
        return records;
    }
}
