// Reads an .onnx file into the mutable IR. External initializers become memory-mapped slices
// of their side files (never read eagerly); inline ones are copied as raw bytes.
// It does not validate op schemas; ORT does that when a session is created.
using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Onnx.IO;

public static class ModelReader
{
    public static Model Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: model file not found", path);
        }
        ModelProto proto;
        try
        {
            using var stream = File.OpenRead(path);
            var input = new CodedInputStream(stream);
            proto = ModelProto.Parser.ParseFrom(input);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: not a valid ONNX model ({e.Message})", e);
        }
        if (proto.Graph is null)
        {
            throw new InvalidDataException($"{path}: ONNX model has no graph");
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var graph = ReadGraph(proto.Graph, dir, path);
        return new Model(graph, proto);
    }

    private static Graph ReadGraph(GraphProto gp, string dir, string path)
    {
        var graph = new Graph { Name = gp.Name };
        foreach (var n in gp.Node)
        {
            graph.Nodes.Add(new Node(n));
        }
        graph.Inputs.AddRange(gp.Input);
        graph.Outputs.AddRange(gp.Output);
        foreach (var t in gp.Initializer)
        {
            graph.AddInitializer(ReadTensor(t, dir, path));
        }
        var extra = gp.Clone();
        extra.Node.Clear();
        extra.Input.Clear();
        extra.Output.Clear();
        extra.Initializer.Clear();
        graph.Extra = extra;
        // Graph inputs that also have initializers are "overridable" (ORT adapter parameters); kept as they are.
        return graph;
    }

    public static Initializer ReadTensor(TensorProto t, string dir, string path)
    {
        var type = (ElementType)t.DataType;
        var dims = t.Dims.ToArray();
        var extra = new TensorProto { DocString = t.DocString };
        extra.MetadataProps.AddRange(t.MetadataProps);
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            string? location = null;
            long offset = 0, length = -1;
            foreach (var e in t.ExternalData)
            {
                switch (e.Key)
                {
                    case "location": location = e.Value; break;
                    case "offset": offset = long.Parse(e.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                    case "length": length = long.Parse(e.Value, System.Globalization.CultureInfo.InvariantCulture); break;
                }
            }
            if (location is null)
            {
                throw new InvalidDataException($"{path}: initializer '{t.Name}' is external but names no location");
            }
            var file = Path.Combine(dir, location);
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"{path}: initializer '{t.Name}': external data file '{location}' not found", file);
            }
            if (length < 0)
            {
                length = Initializer.ElementCount(dims) * type.SizeInBytes();
            }
            return new Initializer(t.Name, type, dims, TensorData.FromFile(file, offset, length)) { Extra = extra };
        }
        byte[] bytes;
        if (t.HasRawData)
        {
            bytes = t.RawData.ToByteArray();
        }
        else
        {
            bytes = type switch
            {
                ElementType.Float => MemoryMarshal.AsBytes<float>(t.FloatData.ToArray()).ToArray(),
                ElementType.Int64 => MemoryMarshal.AsBytes<long>(t.Int64Data.ToArray()).ToArray(),
                ElementType.Double => MemoryMarshal.AsBytes<double>(t.DoubleData.ToArray()).ToArray(),
                ElementType.Int32 => MemoryMarshal.AsBytes<int>(t.Int32Data.ToArray()).ToArray(),
                ElementType.Float16 or ElementType.BFloat16 or ElementType.UInt16 or ElementType.Int16 =>
                    t.Int32Data.SelectMany(v => BitConverter.GetBytes((ushort)v)).ToArray(),
                ElementType.Int8 or ElementType.UInt8 or ElementType.Bool => t.Int32Data.Select(v => (byte)v).ToArray(),
                _ => throw new InvalidDataException($"{path}: initializer '{t.Name}' has unsupported data type {t.DataType}"),
            };
        }
        return new Initializer(t.Name, type, dims, TensorData.FromBytes(bytes)) { Extra = extra };
    }
}
