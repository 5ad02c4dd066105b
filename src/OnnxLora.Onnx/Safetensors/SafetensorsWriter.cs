// Writes a safetensors file atomically (temp file + rename): header keys sorted by name,
// space-padded so the data buffer starts on an 8-byte boundary. Data is laid out by
// descending element size, then name, so every tensor is naturally aligned. No sharding.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace OnnxLora.Onnx.Safetensors;

public static class SafetensorsWriter
{
    /// <summary>Data buffer alignment (and header padding multiple).</summary>
    public const int Alignment = 8;

    private const int CopyBufferBytes = 1 << 20;

    public static void Write(string path, IEnumerable<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var streamed = new List<SafetensorsStreamedTensor>();
        foreach (SafetensorsTensor tensor in tensors)
        {
            long? expected = SafetensorsShape.ByteLength(tensor.Shape, tensor.DType);
            if (expected != tensor.Data.Length)
            {
                throw new ArgumentException(
                    $"{Path.GetFileName(path)}: tensor '{tensor.Name}': holds {tensor.Data.Length} bytes but {tensor.DType.ToHeaderString()} shape {SafetensorsShape.Format(tensor.Shape)} needs {expected?.ToString() ?? "an impossible count"}",
                    nameof(tensors));
            }

            ReadOnlyMemory<byte> data = tensor.Data;
            streamed.Add(new SafetensorsStreamedTensor(tensor.Name, tensor.DType, tensor.Shape, stream => stream.Write(data.Span)));
        }

        WriteStreaming(path, streamed, metadata);
    }

    /// <summary>
    /// Writes tensors whose bytes come from callbacks, one tensor at a time in data order, so nothing
    /// but the header is held in memory. Each callback must write exactly its tensor's Length bytes.
    /// </summary>
    public static void WriteStreaming(string path, IEnumerable<SafetensorsStreamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        string fullPath = Path.GetFullPath(path);
        string fileName = Path.GetFileName(fullPath);

        SafetensorsStreamedTensor[] byName = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToArray();
        Validate(fileName, byName);

        // Alignment: larger elements first keeps each tensor's offset a multiple of its element size.
        SafetensorsStreamedTensor[] dataOrder = byName
            .OrderByDescending(t => t.DType.ElementSize())
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToArray();
        var begins = new Dictionary<string, long>(StringComparer.Ordinal);
        long offset = 0;
        foreach (SafetensorsStreamedTensor tensor in dataOrder)
        {
            begins[tensor.Name] = offset;
            offset += tensor.Length;
        }

        byte[] header = BuildHeader(byName, begins, metadata);
        string tempPath = $"{fullPath}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        try
        {
            using (var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBufferBytes))
            {
                Span<byte> prefix = stackalloc byte[SafetensorsHeader.LengthPrefixBytes];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                file.Write(prefix);
                file.Write(header);
                foreach (SafetensorsStreamedTensor tensor in dataOrder)
                {
                    var bounded = new ExactLengthWriteStream(file, tensor.Length, fileName, tensor.Name);
                    tensor.WriteData(bounded);
                    if (bounded.Written != tensor.Length)
                    {
                        throw new InvalidOperationException(
                            $"{fileName}: tensor '{tensor.Name}': callback wrote {bounded.Written} bytes but {tensor.DType.ToHeaderString()} shape {SafetensorsShape.Format(tensor.Shape)} needs {tensor.Length}");
                    }
                }

                file.Flush(flushToDisk: true);
            }

            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
    }

    private static void Validate(string fileName, SafetensorsStreamedTensor[] sortedByName)
    {
        for (int i = 0; i < sortedByName.Length; i++)
        {
            SafetensorsStreamedTensor tensor = sortedByName[i];
            if (string.IsNullOrEmpty(tensor.Name))
            {
                throw new ArgumentException($"{fileName}: a tensor has an empty name");
            }

            if (tensor.Name == SafetensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"{fileName}: tensor name '{SafetensorsHeader.MetadataKey}' is reserved");
            }

            if (i > 0 && sortedByName[i - 1].Name == tensor.Name)
            {
                throw new ArgumentException($"{fileName}: tensor '{tensor.Name}': given twice");
            }

            ArgumentNullException.ThrowIfNull(tensor.Shape);
            ArgumentNullException.ThrowIfNull(tensor.WriteData);
            _ = tensor.Length; // throws for a negative or overflowing shape
        }
    }

    private static byte[] BuildHeader(
        SafetensorsStreamedTensor[] sortedByName,
        Dictionary<string, long> begins,
        IReadOnlyDictionary<string, string>? metadata)
    {
        using var json = new MemoryStream();
        // Relaxed escaping keeps non-ASCII names readable, as serde_json does; the output is still valid JSON.
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var writer = new Utf8JsonWriter(json, options))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (KeyValuePair<string, string> entry in metadata.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    writer.WriteString(entry.Key, entry.Value);
                }

                writer.WriteEndObject();
            }

            foreach (SafetensorsStreamedTensor tensor in sortedByName)
            {
                long begin = begins[tensor.Name];
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", tensor.DType.ToHeaderString());
                writer.WriteStartArray("shape");
                foreach (long dim in tensor.Shape)
                {
                    writer.WriteNumberValue(dim);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(begin);
                writer.WriteNumberValue(begin + tensor.Length);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        // Pad with spaces so 8 + header length is a multiple of Alignment (8 itself is, so pad the JSON alone).
        int unpadded = (int)json.Length;
        int padded = (unpadded + Alignment - 1) / Alignment * Alignment;
        byte[] header = new byte[padded];
        json.GetBuffer().AsSpan(0, unpadded).CopyTo(header);
        header.AsSpan(unpadded).Fill((byte)' ');
        return header;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original exception matters more than a leftover temp file.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
