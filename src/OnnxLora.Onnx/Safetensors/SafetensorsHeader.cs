// Parses and validates the JSON header of one safetensors file against its buffer length:
// dtypes, shapes, offsets in range, length == product(shape) * element size, no overlaps.
// It never touches tensor bytes; gaps between tensors are tolerated (only overlaps are errors).
using System.Text.Json;

namespace OnnxLora.Onnx.Safetensors;

internal sealed class SafetensorsHeader
{
    /// <summary>Bytes in the little-endian u64 that precedes the JSON header.</summary>
    public const int LengthPrefixBytes = 8;

    /// <summary>Largest header we accept (the reference implementation's limit); larger is corruption.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    private SafetensorsHeader(Dictionary<string, string> metadata, List<SafetensorsTensorInfo> tensors)
    {
        Metadata = metadata;
        Tensors = tensors;
    }

    public Dictionary<string, string> Metadata { get; }

    /// <summary>Tensors in header order, offsets made absolute.</summary>
    public List<SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Checks the length prefix against the file length; returns the header length.</summary>
    public static long CheckHeaderLength(string filePath, ulong headerLength, long fileLength)
    {
        if (headerLength > MaxHeaderBytes)
        {
            throw new SafetensorsFormatException(
                filePath, null, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (corrupt or not safetensors)");
        }

        if ((long)headerLength > fileLength - LengthPrefixBytes)
        {
            throw new SafetensorsFormatException(
                filePath, null, $"header length {headerLength} exceeds file length {fileLength} minus the {LengthPrefixBytes}-byte prefix");
        }

        return (long)headerLength;
    }

    /// <param name="json">The header bytes (without the length prefix, possibly space-padded).</param>
    /// <param name="dataStart">Absolute file offset of the data buffer.</param>
    /// <param name="bufferLength">Bytes from dataStart to end of file.</param>
    public static SafetensorsHeader Parse(string filePath, ReadOnlyMemory<byte> json, long dataStart, long bufferLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new SafetensorsFormatException(filePath, null, $"header is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(filePath, null, $"header must be a JSON object, found {root.ValueKind}");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<SafetensorsTensorInfo>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new SafetensorsFormatException(filePath, property.Name, "appears twice in the header");
                }

                if (property.Name == MetadataKey)
                {
                    ReadMetadata(filePath, property.Value, metadata);
                    continue;
                }

                tensors.Add(ReadTensor(filePath, property.Name, property.Value, dataStart, bufferLength));
            }

            CheckNoOverlap(filePath, tensors, dataStart);
            return new SafetensorsHeader(metadata, tensors);
        }
    }

    private static void ReadMetadata(string filePath, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(filePath, null, $"'{MetadataKey}' must be an object of strings, found {value.ValueKind}");
        }

        foreach (JsonProperty entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(
                    filePath, null, $"'{MetadataKey}' entry '{entry.Name}' must be a string, found {entry.Value.ValueKind}");
            }

            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafetensorsTensorInfo ReadTensor(string filePath, string name, JsonElement value, long dataStart, long bufferLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(filePath, name, $"entry must be an object, found {value.ValueKind}");
        }

        if (!value.TryGetProperty("dtype", out JsonElement dtypeElement))
        {
            throw new SafetensorsFormatException(filePath, name, "missing 'dtype'");
        }

        if (!value.TryGetProperty("shape", out JsonElement shapeElement))
        {
            throw new SafetensorsFormatException(filePath, name, "missing 'shape'");
        }

        if (!value.TryGetProperty("data_offsets", out JsonElement offsetsElement))
        {
            throw new SafetensorsFormatException(filePath, name, "missing 'data_offsets'");
        }

        string dtypeText = dtypeElement.ValueKind == JsonValueKind.String ? dtypeElement.GetString()! : dtypeElement.GetRawText();
        if (!SafetensorsDTypes.TryParse(dtypeText, out SafetensorsDType dtype))
        {
            throw new SafetensorsFormatException(filePath, name, $"unknown dtype '{dtypeText}'");
        }

        long[] shape = ReadNonNegativeInts(filePath, name, "shape", shapeElement);
        long[] offsets = ReadNonNegativeInts(filePath, name, "data_offsets", offsetsElement);
        if (offsets.Length != 2)
        {
            throw new SafetensorsFormatException(filePath, name, $"data_offsets must hold 2 numbers, found {offsets.Length}");
        }

        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin)
        {
            throw new SafetensorsFormatException(filePath, name, $"data_offsets [{begin}, {end}) end before they begin");
        }

        long? expected = SafetensorsShape.ByteLength(shape, dtype);
        if (expected is null)
        {
            throw new SafetensorsFormatException(
                filePath, name, $"shape {SafetensorsShape.Format(shape)} of {dtype.ToHeaderString()} overflows a 64-bit byte count");
        }

        if (end - begin != expected.Value)
        {
            throw new SafetensorsFormatException(
                filePath,
                name,
                $"data_offsets [{begin}, {end}) hold {end - begin} bytes but {dtype.ToHeaderString()} shape {SafetensorsShape.Format(shape)} needs {expected.Value}");
        }

        if (end > bufferLength)
        {
            throw new SafetensorsFormatException(
                filePath, name, $"data_offsets [{begin}, {end}) exceed buffer length {bufferLength} (truncated file?)");
        }

        return new SafetensorsTensorInfo(name, dtype, shape, dataStart + begin, end - begin, filePath);
    }

    private static long[] ReadNonNegativeInts(string filePath, string name, string field, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new SafetensorsFormatException(filePath, name, $"'{field}' must be an array, found {element.ValueKind}");
        }

        var values = new long[element.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
            {
                throw new SafetensorsFormatException(
                    filePath, name, $"'{field}' must hold non-negative integers, found {item.GetRawText()}");
            }

            values[i++] = v;
        }

        return values;
    }

    private static void CheckNoOverlap(string filePath, List<SafetensorsTensorInfo> tensors, long dataStart)
    {
        // Empty tensors occupy no bytes and cannot overlap anything.
        SafetensorsTensorInfo[] byOffset = tensors.Where(t => t.Length > 0).OrderBy(t => t.Offset).ToArray();
        for (int i = 1; i < byOffset.Length; i++)
        {
            SafetensorsTensorInfo previous = byOffset[i - 1];
            SafetensorsTensorInfo current = byOffset[i];
            if (current.Offset < previous.Offset + previous.Length)
            {
                throw new SafetensorsFormatException(
                    filePath,
                    current.Name,
                    $"data_offsets [{current.Offset - dataStart}, {current.Offset - dataStart + current.Length}) overlap tensor '{previous.Name}' [{previous.Offset - dataStart}, {previous.Offset - dataStart + previous.Length})");
            }
        }
    }
}
