// Minimal safetensors reader for check-onnx: header JSON + raw little-endian data, F32/I64/U8 only.
// It does not memory-map or validate alignment; the cases files are small.
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

internal static class SafeTensors
{
    internal sealed record Entry(string Name, string DType, long[] Shape, byte[] Data)
    {
        public float[] Floats() => DType == "F32"
            ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Data).ToArray()
            : throw new InvalidDataException($"tensor {Name}: expected F32, found {DType}");

        public OrtValue ToOrtValue() => DType switch
        {
            "F32" => OrtValue.CreateTensorValueFromMemory(Floats(), Shape),
            "I64" => OrtValue.CreateTensorValueFromMemory(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(Data).ToArray(), Shape),
            "U8" => OrtValue.CreateTensorValueFromMemory(Data.ToArray(), Shape),
            _ => throw new InvalidDataException($"tensor {Name}: dtype {DType} is not supported (F32, I64, U8)"),
        };
    }

    public static Dictionary<string, Entry> Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8)
        {
            throw new InvalidDataException($"{path}: too short for a safetensors header");
        }
        long n = BitConverter.ToInt64(file, 0);
        if (n <= 0 || 8 + n > file.Length)
        {
            throw new InvalidDataException($"{path}: header length {n} does not fit the file ({file.Length} bytes)");
        }
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)n));
        var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
        long dataStart = 8 + n;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                continue;
            }
            string dtype = p.Value.GetProperty("dtype").GetString()!;
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (off.Length != 2 || off[0] > off[1] || dataStart + off[1] > file.Length)
            {
                throw new InvalidDataException($"{path}: tensor {p.Name}: data_offsets [{string.Join(",", off)}] outside the file");
            }
            result[p.Name] = new Entry(p.Name, dtype, shape, file.AsSpan((int)(dataStart + off[0]), (int)(off[1] - off[0])).ToArray());
        }
        return result;
    }
}
