// A Hugging Face checkpoint as one lookup table: a single .safetensors file, a directory
// holding model.safetensors, or shards listed by model.safetensors.index.json. Shards are
// mapped lazily on first use; it never merges or copies shards.
using System.Text.Json;

namespace OnnxLora.Onnx.Safetensors;

public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly Dictionary<string, string> _shardOfTensor; // tensor name -> shard full path
    private readonly Dictionary<string, SafetensorsFile> _openShards = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    private SafetensorsCheckpoint(
        string sourcePath,
        string? indexPath,
        IReadOnlyDictionary<string, string> metadata,
        IReadOnlyList<string> names,
        Dictionary<string, string> shardOfTensor,
        IReadOnlyList<string> shardPaths)
    {
        SourcePath = sourcePath;
        IndexPath = indexPath;
        Metadata = metadata;
        Names = names;
        _shardOfTensor = shardOfTensor;
        ShardPaths = shardPaths;
    }

    /// <summary>The file or directory that was opened.</summary>
    public string SourcePath { get; }

    /// <summary>The index json when sharded; null for a single file.</summary>
    public string? IndexPath { get; }

    /// <summary>The index "metadata" (non-string values as raw JSON) or the single file's "__metadata__".</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensor names: index weight_map order, or header order for a single file.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Full paths of the distinct shard files, in first-mention order.</summary>
    public IReadOnlyList<string> ShardPaths { get; }

    /// <summary>Opens a .safetensors file, an index json, or a directory holding either.</summary>
    /// <exception cref="FileNotFoundException">Nothing loadable at path.</exception>
    /// <exception cref="SafetensorsFormatException">Malformed file or index, or the index names a missing shard.</exception>
    public static SafetensorsCheckpoint Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            string index = Path.Combine(fullPath, IndexFileName);
            if (File.Exists(index))
            {
                return OpenIndex(fullPath, index);
            }

            string single = Path.Combine(fullPath, SingleFileName);
            if (File.Exists(single))
            {
                return OpenSingle(fullPath, single);
            }

            throw new FileNotFoundException($"{fullPath}: neither {IndexFileName} nor {SingleFileName} found", fullPath);
        }

        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"{fullPath}: no such file or directory", fullPath);
        }

        return fullPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? OpenIndex(fullPath, fullPath)
            : OpenSingle(fullPath, fullPath);
    }

    public bool Contains(string name) => _shardOfTensor.ContainsKey(name);

    /// <exception cref="KeyNotFoundException">No tensor of that name.</exception>
    /// <exception cref="SafetensorsFormatException">The index maps it to a shard that does not hold it.</exception>
    public SafetensorsTensorInfo GetInfo(string name) => Resolve(name).Info;

    /// <summary>Raw bytes from the owning shard's mapping. Valid until Dispose.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        (SafetensorsFile shard, SafetensorsTensorInfo info) = Resolve(name);
        return shard.GetBytes(info);
    }

    public float[] ReadAsFloat32(string name)
    {
        (SafetensorsFile shard, _) = Resolve(name);
        return shard.ReadAsFloat32(name);
    }

    public void CopyAsFloat32(string name, Span<float> destination)
    {
        (SafetensorsFile shard, SafetensorsTensorInfo info) = Resolve(name);
        shard.CopyAsFloat32(info, destination);
    }

    /// <summary>Elements [offset, offset + destination.Length) of one tensor as float32 (see SafetensorsFile).</summary>
    public void CopyAsFloat32(string name, long offset, Span<float> destination)
    {
        (SafetensorsFile shard, SafetensorsTensorInfo info) = Resolve(name);
        shard.CopyAsFloat32(info, offset, destination);
    }

    public long[] ReadInt64(string name)
    {
        (SafetensorsFile shard, _) = Resolve(name);
        return shard.ReadInt64(name);
    }

    /// <summary>Opens every shard and checks each index entry is present where the index says.</summary>
    public void VerifyAllShards()
    {
        foreach (string name in Names)
        {
            Resolve(name);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (SafetensorsFile shard in _openShards.Values)
            {
                shard.Dispose();
            }

            _openShards.Clear();
        }
    }

    private static SafetensorsCheckpoint OpenSingle(string sourcePath, string filePath)
    {
        SafetensorsFile file = SafetensorsFile.Open(filePath);
        var shardOfTensor = file.Names.ToDictionary(n => n, _ => file.FilePath, StringComparer.Ordinal);
        var checkpoint = new SafetensorsCheckpoint(sourcePath, null, file.Metadata, file.Names, shardOfTensor, [file.FilePath]);
        checkpoint._openShards.Add(file.FilePath, file);
        return checkpoint;
    }

    private static SafetensorsCheckpoint OpenIndex(string sourcePath, string indexPath)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException ex)
        {
            throw new SafetensorsFormatException(indexPath, null, $"not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, null, $"must be a JSON object, found {root.ValueKind}");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out JsonElement metadataElement) && metadataElement.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty entry in metadataElement.EnumerateObject())
                {
                    // HF writes e.g. "total_size": 123 as a number; keep its raw text.
                    metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String
                        ? entry.Value.GetString()!
                        : entry.Value.GetRawText();
                }
            }

            if (!root.TryGetProperty("weight_map", out JsonElement weightMap) || weightMap.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, null, "missing 'weight_map' object");
            }

            string directory = Path.GetDirectoryName(indexPath)!;
            var names = new List<string>();
            var shardOfTensor = new Dictionary<string, string>(StringComparer.Ordinal);
            var shardPaths = new List<string>();
            foreach (JsonProperty entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new SafetensorsFormatException(indexPath, entry.Name, $"shard must be a file name string, found {entry.Value.ValueKind}");
                }

                string shardName = entry.Value.GetString()!;
                if (shardName.Length == 0 || shardName != Path.GetFileName(shardName) || shardName is "." or "..")
                {
                    throw new SafetensorsFormatException(indexPath, entry.Name, $"shard '{shardName}' must be a plain file name beside the index");
                }

                if (!shardOfTensor.TryAdd(entry.Name, Path.Combine(directory, shardName)))
                {
                    throw new SafetensorsFormatException(indexPath, entry.Name, "appears twice in weight_map");
                }

                names.Add(entry.Name);
                string shardPath = shardOfTensor[entry.Name];
                if (!shardPaths.Contains(shardPath))
                {
                    if (!File.Exists(shardPath))
                    {
                        throw new SafetensorsFormatException(indexPath, entry.Name, $"shard '{shardName}' does not exist");
                    }

                    shardPaths.Add(shardPath);
                }
            }

            return new SafetensorsCheckpoint(sourcePath, indexPath, metadata, names, shardOfTensor, shardPaths);
        }
    }

    private (SafetensorsFile Shard, SafetensorsTensorInfo Info) Resolve(string name)
    {
        if (!_shardOfTensor.TryGetValue(name, out string? shardPath))
        {
            throw new KeyNotFoundException($"{Path.GetFileName(IndexPath ?? SourcePath)}: no tensor '{name}'");
        }

        SafetensorsFile shard = GetShard(shardPath);
        if (!shard.TryGetInfo(name, out SafetensorsTensorInfo info))
        {
            throw new SafetensorsFormatException(
                IndexPath ?? shardPath, name, $"mapped to shard '{Path.GetFileName(shardPath)}' but that shard does not hold it");
        }

        return (shard, info);
    }

    private SafetensorsFile GetShard(string shardPath)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_openShards.TryGetValue(shardPath, out SafetensorsFile? shard))
            {
                shard = SafetensorsFile.Open(shardPath);
                _openShards.Add(shardPath, shard);
            }

            return shard;
        }
    }
}
