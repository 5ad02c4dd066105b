// An op's identity: its domain ("" for the standard ONNX domain, which may also be spelled
// "ai.onnx") and its op type. Contrib ops (com.microsoft) are keyed the same way.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Ops;

internal readonly record struct OpKey
{
    public OpKey(string domain, string opType)
    {
        Domain = domain == "ai.onnx" ? "" : domain;
        OpType = opType;
    }

    public string Domain { get; }

    public string OpType { get; }

    public static OpKey Of(Node node) => new(node.Domain, node.OpType);

    /// <summary>"Mul" for a standard op, "com.microsoft:MatMulNBits" for another domain.</summary>
    public override string ToString() => Domain.Length == 0 ? OpType : $"{Domain}:{OpType}";
}
