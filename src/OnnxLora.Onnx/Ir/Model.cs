// An ONNX model in memory: the mutable graph plus the ModelProto fields around it
// (opsets, producer, metadata, functions and unknown fields, which round-trip untouched).
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Onnx.Ir;

public sealed class Model
{
    public const long DefaultIrVersion = 10;
    public const long DefaultOpset = 21;
    public const string MicrosoftDomain = "com.microsoft";

    public Model(Graph graph, ModelProto? header = null)
    {
        Graph = graph;
        Header = header ?? new ModelProto
        {
            IrVersion = DefaultIrVersion,
            ProducerName = "onnxlora",
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = DefaultOpset } },
        };
        Header.Graph = null;
    }

    public Graph Graph { get; }

    /// <summary>The ModelProto without its graph.</summary>
    public ModelProto Header { get; }

    public void EnsureOpset(string domain, long version)
    {
        var existing = Header.OpsetImport.FirstOrDefault(o => (o.HasDomain ? o.Domain : "") == domain);
        if (existing is null)
        {
            Header.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }
        else if (existing.Version < version)
        {
            existing.Version = version;
        }
    }

    public void SetMetadata(string key, string value)
    {
        var entry = Header.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (entry is null)
        {
            Header.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }
        else
        {
            entry.Value = value;
        }
    }
}
