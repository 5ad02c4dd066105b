// One ONNX node: op type, domain, input/output value names and attributes.
// The node keeps its NodeProto, so doc strings, metadata and unknown fields round-trip.
using Google.Protobuf;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Onnx.Ir;

public sealed class Node
{
    public Node(NodeProto proto) => Proto = proto;

    public Node(string opType, string name, IEnumerable<string> inputs, IEnumerable<string> outputs, string domain = "")
    {
        Proto = new NodeProto { OpType = opType, Name = name };
        if (domain.Length > 0)
        {
            Proto.Domain = domain;
        }
        Proto.Input.AddRange(inputs);
        Proto.Output.AddRange(outputs);
    }

    public NodeProto Proto { get; }

    public string OpType => Proto.OpType;

    public string Domain => Proto.HasDomain ? Proto.Domain : "";

    public string Name
    {
        get => Proto.Name;
        set => Proto.Name = value;
    }

    public IList<string> Inputs => Proto.Input;

    public IList<string> Outputs => Proto.Output;

    /// <summary>Input i, or "" when absent (ONNX optional inputs are empty names).</summary>
    public string Input(int i) => i < Proto.Input.Count ? Proto.Input[i] : "";

    public override string ToString() => $"{OpType} node '{Name}'";

    public AttributeProto? Attribute(string name)
    {
        foreach (var a in Proto.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }
        return null;
    }

    public long GetInt(string name, long fallback) => Attribute(name) is { } a ? a.I : fallback;

    public float GetFloat(string name, float fallback) => Attribute(name) is { } a ? a.F : fallback;

    public long[]? GetInts(string name) => Attribute(name)?.Ints.ToArray();

    public string? GetString(string name) => Attribute(name)?.S.ToStringUtf8();

    public Node SetAttribute(string name, object value)
    {
        for (int i = Proto.Attribute.Count - 1; i >= 0; i--)
        {
            if (Proto.Attribute[i].Name == name)
            {
                Proto.Attribute.RemoveAt(i);
            }
        }
        Proto.Attribute.Add(MakeAttribute(name, value));
        return this;
    }

    public static AttributeProto MakeAttribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case long l:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = l;
                break;
            case bool b:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = b ? 1 : 0;
                break;
            case float f:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = f;
                break;
            case double d:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = (float)d;
                break;
            case string s:
                a.Type = AttributeProto.Types.AttributeType.String;
                a.S = ByteString.CopyFromUtf8(s);
                break;
            case long[] ls:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ls);
                break;
            case int[] xs:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(xs.Select(x => (long)x));
                break;
            case float[] fs:
                a.Type = AttributeProto.Types.AttributeType.Floats;
                a.Floats.AddRange(fs);
                break;
            case TensorProto t:
                a.Type = AttributeProto.Types.AttributeType.Tensor;
                a.T = t;
                break;
            case GraphProto g:
                a.Type = AttributeProto.Types.AttributeType.Graph;
                a.G = g;
                break;
            default:
                throw new ArgumentException($"attribute '{name}': unsupported value type {value.GetType().Name}");
        }
        return a;
    }
}
