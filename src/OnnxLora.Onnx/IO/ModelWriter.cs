// Writes the IR to <name>.onnx plus an external-data side file, atomically (temp + rename).
// Weights are streamed from their source (memory map or managed bytes) into the side file, so
// the protobuf stays small and a model over 2 GB never becomes one protobuf.
using System.Globalization;
using Google.Protobuf;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Onnx.IO;

public static class ModelWriter
{
    /// <summary>Protobuf's hard limit; a serialized model at or above it cannot be parsed by anyone.</summary>
    public const long MaxProtobufBytes = int.MaxValue;

    public static void Save(Model model, string path, ExternalDataOptions? options = null)
    {
        options ??= new ExternalDataOptions();
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var dataPath = Path.Combine(dir, options.DataFileName);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var dataTmp = dataPath + ".tmp-" + tag;
        var modelTmp = full + ".tmp-" + tag;

        var graphProto = model.Graph.Extra.Clone();
        graphProto.Name = model.Graph.Name;
        graphProto.Node.AddRange(model.Graph.Nodes.Select(n => n.Proto));
        graphProto.Input.AddRange(model.Graph.Inputs);
        graphProto.Output.AddRange(model.Graph.Outputs);

        bool wroteData = false, referencesTarget = false;
        try
        {
            using (var data = new FileStream(dataTmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                foreach (var init in model.Graph.Initializers.Values)
                {
                    graphProto.Initializer.Add(WriteTensor(init, data, dir, dataPath, options, ref wroteData, ref referencesTarget));
                }
                data.Flush(true);
            }
            if (wroteData && referencesTarget)
            {
                throw new BadInputException(
                    $"{path}: new weights would replace '{options.DataFileName}', which other weights are read from; save with another DataFileName");
            }
            var proto = model.Header.Clone();
            proto.Graph = graphProto;
            long size = proto.CalculateSize();
            if (size >= MaxProtobufBytes)
            {
                throw new InvalidOperationException(
                    $"{path}: the protobuf would be {size} bytes (limit 2 GiB); lower ExternalDataOptions.InlineThreshold");
            }
            using (var stream = new FileStream(modelTmp, FileMode.CreateNew, FileAccess.Write))
            {
                proto.WriteTo(stream);
                stream.Flush(true);
            }
            if (wroteData)
            {
                MappedFile.Evict(dataPath);
                File.Move(dataTmp, dataPath, overwrite: true);
            }
            else
            {
                File.Delete(dataTmp);
            }
            File.Move(modelTmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(dataTmp);
            TryDelete(modelTmp);
            throw;
        }
        finally
        {
            // Graph protos borrowed the nodes' protos; detach them so the IR stays independent.
            graphProto.Node.Clear();
        }
    }

    private static TensorProto WriteTensor(
        Initializer init, FileStream data, string dir, string dataPath, ExternalDataOptions options, ref bool wroteData, ref bool referencesTarget)
    {
        var t = init.Extra?.Clone() ?? new TensorProto();
        t.Name = init.Name;
        t.DataType = (int)init.Type;
        t.Dims.AddRange(init.Dims);

        if (init.Data is ExternalTensorData linked && options.LinkedFiles.TryGetValue(linked.FilePath, out var location))
        {
            return External(t, location, linked.Offset, linked.Length);
        }
        if (init.Data is ExternalTensorData ext && options.ReferenceFilesInOutputFolder && IsInside(ext.FilePath, dir))
        {
            // Bytes already inside the output folder (e.g. re-saving beside the same side file) stay where they are.
            referencesTarget |= string.Equals(ext.FilePath, Path.GetFullPath(dataPath), StringComparison.Ordinal);
            return External(t, Path.GetRelativePath(dir, ext.FilePath), ext.Offset, ext.Length);
        }
        if (init.Data.Length < options.InlineThreshold)
        {
            t.RawData = ByteString.CopyFrom(init.Data.Span);
            return t;
        }
        long align = init.Data.Length >= options.LargeTensorBytes ? options.LargeAlignment : options.SmallAlignment;
        long offset = (data.Position + align - 1) / align * align;
        if (offset > data.Position)
        {
            data.Write(new byte[offset - data.Position]);
        }
        CopyChunked(init.Data, data);
        wroteData = true;
        return External(t, options.DataFileName, offset, init.Data.Length);
    }

    private static void CopyChunked(TensorData src, Stream dst)
    {
        const int chunk = 1 << 24;
        if (src is ExternalTensorData ext)
        {
            var map = MappedFile.Open(ext.FilePath);
            for (long done = 0; done < ext.Length; done += chunk)
            {
                dst.Write(map.Slice(ext.Offset + done, Math.Min(chunk, ext.Length - done)));
            }
            return;
        }
        if (src is GeneratedTensorData gen)
        {
            gen.WriteTo(dst);
            return;
        }
        dst.Write(src.Span);
    }

    private static TensorProto External(TensorProto t, string location, long offset, long length)
    {
        t.DataLocation = TensorProto.Types.DataLocation.External;
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location.Replace('\\', '/') });
        t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
        t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        return t;
    }

    private static bool IsInside(string file, string dir)
    {
        var rel = Path.GetRelativePath(dir, file);
        return !rel.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(rel);
    }

    private static void TryDelete(string p)
    {
        try
        {
            File.Delete(p);
        }
        catch (IOException)
        {
        }
    }
}
