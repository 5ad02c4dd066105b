// Frozen weights held once for every CPU session that reads them. Each initializer whose bytes live in an
// external data file is handed to ORT as a shared initializer (SessionOptions.AddInitializer) over our one
// read-only memory map of that file (MappedFile), so ORT neither loads nor copies it, a training and an eval
// session over the same base weights read the same pages. A table read by Gather (an embedding) is mapped for random
// access, so only the rows a batch reads become resident. ORT may still constant-fold a chain computed from a shared
// initializer into a new tensor: graphs read them directly or through ordered views (MatMulNBitsGradient).
// Sessions given these weights run with prepacking off (SessionFactory): a prepacked copy could not replace the
// shared pages, it would sit beside them. Inline (small) initializers stay with ORT. CPU only: a CUDA session
// needs its weights in device memory. The owner disposes it after the last session that uses it.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Runtime;

public sealed class SharedWeights : IDisposable
{
    private readonly Dictionary<string, (OrtValue Value, string Source)> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<string>> _namesByModel = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Initializers handed out so far (each once, whatever the number of sessions).</summary>
    public int Count => _values.Count;

    /// <summary>Bytes of those initializers: what ORT would otherwise have loaded per session.</summary>
    public long Bytes { get; private set; }

    /// <summary>
    /// Adds every external-data initializer of the model at <paramref name="modelPath"/> to <paramref name="options"/>
    /// as a shared initializer; one already mapped for another model is reused. Returns how many it added.
    /// </summary>
    public int AddTo(SessionOptions options, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var names = NamesOf(Path.GetFullPath(modelPath));
        foreach (var name in names)
        {
            options.AddInitializer(name, _values[name].Value);
        }
        return names.Count;
    }

    private IReadOnlyList<string> NamesOf(string modelPath)
    {
        if (_namesByModel.TryGetValue(modelPath, out var known))
        {
            return known;
        }
        var graph = ModelReader.Load(modelPath).Graph;
        var inputs = graph.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        // tables read by row (embeddings): only the rows a batch gathers should become resident
        var gathered = graph.Nodes.Where(n => n.OpType == "Gather" && n.Domain.Length == 0).Select(n => n.Input(0)).ToHashSet(StringComparer.Ordinal);
        var names = new List<string>();
        foreach (var init in graph.Initializers.Values)
        {
            // an initializer that is also a graph input is overridable: the caller feeds it, it is not frozen
            if (init.Data is not ExternalTensorData ext || inputs.Contains(init.Name))
            {
                continue;
            }
            var source = $"{ext.FilePath}@{ext.Offset}+{ext.Length}";
            if (_values.TryGetValue(init.Name, out var shared))
            {
                if (shared.Source != source)
                {
                    throw new InvalidDataException(
                        $"{modelPath}: initializer '{init.Name}' reads {source}, but another model shares that name for {shared.Source}");
                }
            }
            else
            {
                long expected = init.ElementCountValue * init.Type.SizeInBytes();
                if (ext.Length != expected)
                {
                    throw new InvalidDataException(
                        $"{modelPath}: initializer '{init.Name}' has {ext.Length} bytes of external data, its type and shape need {expected}");
                }
                var map = MappedFile.Open(ext.FilePath);
                var address = map.Address(ext.Offset, ext.Length);
                if (gathered.Contains(init.Name))
                {
                    map.AdviseRandomAccess(ext.Offset, ext.Length);
                }
                var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)init.Type,
                    init.Dims, address, ext.Length);
                _values[init.Name] = (value, source);
                Bytes += ext.Length;
            }
            names.Add(init.Name);
        }
        _namesByModel[modelPath] = names;
        return names;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var (value, _) in _values.Values)
        {
            value.Dispose();
        }
        _values.Clear();
    }
}
