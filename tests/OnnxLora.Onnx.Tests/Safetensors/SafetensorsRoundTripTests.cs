// Write → read round trips for every dtype, metadata, header ordering/padding and
// alignment, plus the From* conveniences and atomic replacement. No malformed input here.
using System.Buffers.Binary;
using System.Text.Json;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsRoundTripTests
{
    public static TheoryData<SafetensorsDType> AllDTypes() => new(Enum.GetValues<SafetensorsDType>());

    [Theory]
    [MemberData(nameof(AllDTypes))]
    public void RoundTripPreservesBytesShapeAndDType(SafetensorsDType dtype)
    {
        using var dir = new TempDirectory();
        long[] shape = [3, 5];
        byte[] data = RandomBytes(dtype, 15, seed: (int)dtype);
        string path = dir.File("t.safetensors");

        SafetensorsWriter.Write(path, [new SafetensorsTensor("w", dtype, shape, data)], null);

        using SafetensorsFile file = SafetensorsFile.Open(path);
        SafetensorsTensorInfo info = file.GetInfo("w");
        Assert.Equal(dtype, info.DType);
        Assert.Equal(shape, info.Shape);
        Assert.Equal(data.Length, info.Length);
        Assert.Equal(path, info.FilePath);
        Assert.Equal(data, file.GetBytes("w").ToArray());
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void RoundTripOfAllDTypesInOneFileKeepsMetadataAndAlignment()
    {
        using var dir = new TempDirectory();
        string path = dir.File("all.safetensors");
        var tensors = Enum.GetValues<SafetensorsDType>()
            .Select(d => new SafetensorsTensor($"t_{d}", d, [7], RandomBytes(d, 7, seed: 100 + (int)d)))
            .ToArray();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };

        SafetensorsWriter.Write(path, tensors, metadata);

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(tensors.Length, file.Names.Count);
        Assert.Equal(0, file.DataStart % SafetensorsWriter.Alignment);
        foreach (SafetensorsTensor t in tensors)
        {
            SafetensorsTensorInfo info = file.GetInfo(t.Name);
            Assert.Equal(t.Data.ToArray(), file.GetBytes(t.Name).ToArray());
            Assert.Equal(0, info.Offset % t.DType.ElementSize()); // natural alignment despite odd-length U8/I8/BOOL
        }
    }

    [Fact]
    public void HeaderKeysAreSortedByNameAndPaddedWithSpacesToEightBytes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("sorted.safetensors");
        SafetensorsWriter.Write(
            path,
            [
                SafetensorsTensor.FromFloat32("zeta", [1f], [1]),
                SafetensorsTensor.FromFloat32("alpha", [2f, 3f], [2]),
                SafetensorsTensor.FromInt64("mid", [4], [1]),
            ],
            new Dictionary<string, string> { ["k"] = "v" });

        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(0, headerLength % 8);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, headerLength);
        Assert.EndsWith("}", header.TrimEnd(' ')); // only spaces follow the JSON
        using JsonDocument doc = JsonDocument.Parse(header);
        string[] keys = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Equal(["__metadata__", "alpha", "mid", "zeta"], keys);
    }

    [Fact]
    public void FromFloat32AndFromInt64ReadBackAsValues()
    {
        using var dir = new TempDirectory();
        string path = dir.File("conv.safetensors");
        float[] floats = [1.5f, -0.25f, float.MaxValue, float.Epsilon, 0f, -0f];
        long[] longs = [long.MinValue, -1, 0, long.MaxValue];
        SafetensorsWriter.Write(
            path,
            [SafetensorsTensor.FromFloat32("f", floats, [2, 3]), SafetensorsTensor.FromInt64("i", longs, [4])],
            null);

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal(floats, file.ReadAsFloat32("f"));
        Assert.Equal(longs, file.ReadInt64("i"));
        Span<float> dst = new float[6];
        file.CopyAsFloat32("f", dst);
        Assert.Equal(floats, dst.ToArray());
    }

    [Fact]
    public void ScalarAndEmptyTensorsRoundTrip()
    {
        using var dir = new TempDirectory();
        string path = dir.File("edge.safetensors");
        SafetensorsWriter.Write(
            path,
            [
                SafetensorsTensor.FromFloat32("scalar", [42f], []),
                SafetensorsTensor.FromFloat32("empty", [], [0, 4]),
                SafetensorsTensor.FromFloat32("after", [7f], [1]),
            ],
            null);

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal([42f], file.ReadAsFloat32("scalar"));
        Assert.Empty(file.GetInfo("scalar").Shape);
        Assert.Empty(file.ReadAsFloat32("empty"));
        Assert.Equal([0L, 4L], file.GetInfo("empty").Shape);
        Assert.Equal([7f], file.ReadAsFloat32("after"));
    }

    [Fact]
    public void OverwriteIsAtomicAndLeavesOpenReadersOnTheOldBytes()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.FromFloat32("w", [1f, 2f], [2])], null);

        using SafetensorsFile oldFile = SafetensorsFile.Open(path);
        SafetensorsWriter.Write(path, [SafetensorsTensor.FromFloat32("w", [9f, 8f, 7f], [3])], null);

        Assert.Equal([1f, 2f], oldFile.ReadAsFloat32("w"));
        using SafetensorsFile newFile = SafetensorsFile.Open(path);
        Assert.Equal([9f, 8f, 7f], newFile.ReadAsFloat32("w"));
        Assert.Equal(["m.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void ReadsHeaderPaddedWithExtraSpaces()
    {
        using var dir = new TempDirectory();
        string header = """{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""" + new string(' ', 13);
        string path = dir.WriteRaw("pad.safetensors", header, BitConverter.GetBytes(3.5f));

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal([3.5f], file.ReadAsFloat32("x"));
        Assert.Equal(8 + header.Length, file.DataStart);
        Assert.Equal(file.DataStart, file.GetInfo("x").Offset);
    }

    [Fact]
    public void ReadInt64WidensInt32()
    {
        using var dir = new TempDirectory();
        string path = dir.File("i32.safetensors");
        int[] ints = [int.MinValue, -7, 0, int.MaxValue];
        byte[] bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(ints.AsSpan()).ToArray();
        SafetensorsWriter.Write(path, [new SafetensorsTensor("ids", SafetensorsDType.I32, [4], bytes)], null);

        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal(ints.Select(i => (long)i), file.ReadInt64("ids"));
    }

    private static byte[] RandomBytes(SafetensorsDType dtype, int elements, int seed)
    {
        var random = new Random(seed);
        byte[] data = new byte[elements * dtype.ElementSize()];
        random.NextBytes(data);
        if (dtype == SafetensorsDType.BOOL)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] &= 1;
            }
        }

        return data;
    }
}
