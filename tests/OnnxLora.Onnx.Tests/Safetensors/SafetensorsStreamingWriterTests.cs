// The streaming writer: tensors produced chunk by chunk through a callback, checked for
// exact byte counts; a failed write leaves neither a temp file nor a damaged target.
using System.Runtime.InteropServices;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsStreamingWriterTests
{
    private const int Rows = 1024; // big enough (8 MiB of F32) that chunking is exercised
    private const int Cols = 2048;
    private const int ChunkRows = 64;

    [Fact]
    public void StreamedTensorsAreWrittenChunkByChunkAndReadBack()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.safetensors");
        int callbacks = 0;
        var big = new SafetensorsStreamedTensor("big", SafetensorsDType.F32, [Rows, Cols], stream =>
        {
            callbacks++;
            var chunk = new float[ChunkRows * Cols];
            for (int r0 = 0; r0 < Rows; r0 += ChunkRows)
            {
                for (int i = 0; i < chunk.Length; i++)
                {
                    chunk[i] = Value(r0 * Cols + i);
                }

                stream.Write(MemoryMarshal.AsBytes(chunk.AsSpan()));
            }
        });
        var small = new SafetensorsStreamedTensor("ids", SafetensorsDType.I64, [3], stream =>
        {
            foreach (long id in new long[] { 5, 6, 7 })
            {
                stream.Write(BitConverter.GetBytes(id));
            }
        });
        Assert.Equal((long)Rows * Cols * 4, big.Length);

        SafetensorsWriter.WriteStreaming(path, [small, big], new Dictionary<string, string> { ["format"] = "pt" });

        Assert.Equal(1, callbacks);
        using SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal([5L, 6L, 7L], file.ReadInt64("ids"));
        Assert.Equal("pt", file.Metadata["format"]);
        float[] values = file.ReadAsFloat32("big");
        foreach (int i in new[] { 0, 1, Cols, (Rows * Cols) / 2 + 17, Rows * Cols - 1 })
        {
            Assert.Equal(Value(i), values[i]);
        }
    }

    [Fact]
    public void CallbackWritingTooFewBytesFailsAndKeepsExistingFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsTensor.FromFloat32("w", [1f], [1])], null);
        byte[] before = File.ReadAllBytes(path);

        var shortTensor = new SafetensorsStreamedTensor("w", SafetensorsDType.F32, [4], stream => stream.Write(new byte[12]));
        var ex = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.WriteStreaming(path, [shortTensor], null));

        Assert.Equal("m.safetensors: tensor 'w': callback wrote 12 bytes but F32 shape [4] needs 16", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["m.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void CallbackWritingTooManyBytesFailsAndLeavesNoFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("m.safetensors");

        var longTensor = new SafetensorsStreamedTensor("w", SafetensorsDType.BF16, [2], stream => stream.Write(new byte[5]));
        var ex = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.WriteStreaming(path, [longTensor], null));

        Assert.Equal("m.safetensors: tensor 'w': callback wrote more than the 4 bytes its shape allows", ex.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    private static float Value(int flatIndex) => (flatIndex % 9973) * 0.001f - 3f;
}
