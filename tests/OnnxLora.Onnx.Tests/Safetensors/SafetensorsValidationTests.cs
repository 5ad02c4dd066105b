// One test per malformed-input case: each asserts a SafetensorsFormatException whose single-line
// message names the file and, where one is to blame, the tensor. Inputs are hand-written bytes
// (TempDirectory.WriteRaw) so they are not limited to what our writer can produce.
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Safetensors;

public sealed class SafetensorsValidationTests
{
    private const string FileName = "model.safetensors";

    [Fact]
    public void HeaderLengthLargerThanFileIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, "{}", [], headerLengthOverride: 4096);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: header length 4096 exceeds file length 10", ex.Message);
        Assert.Equal(path, ex.FilePath);
    }

    [Fact]
    public void AbsurdHeaderLengthIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, "{}", [], headerLengthOverride: 200_000_000);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: header length 200000000 exceeds the 100000000-byte limit", ex.Message);
    }

    [Fact]
    public void FileShorterThanLengthPrefixIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.File(FileName);
        File.WriteAllBytes(path, [1, 2, 3]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: file is 3 bytes", ex.Message);
    }

    [Fact]
    public void InvalidJsonIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"x": {"dtype": "F32",""", []);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: header is not valid JSON", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData("dtype", """{"x":{"shape":[1],"data_offsets":[0,4]}}""")]
    [InlineData("shape", """{"x":{"dtype":"F32","data_offsets":[0,4]}}""")]
    [InlineData("data_offsets", """{"x":{"dtype":"F32","shape":[1]}}""")]
    public void MissingFieldIsRejectedNamingTensorAndField(string field, string header)
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, header, new byte[4]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'x': missing '{field}'", ex.Message);
        Assert.Equal("x", ex.TensorName);
    }

    [Fact]
    public void UnknownDTypeIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"x":{"dtype":"F8_E9","shape":[4],"data_offsets":[0,4]}}""", new byte[4]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'x': unknown dtype 'F8_E9'", ex.Message);
    }

    [Fact]
    public void OffsetsEndingBeforeTheyBeginAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"x":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}""", new byte[8]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'x': data_offsets [8, 4) end before they begin", ex.Message);
    }

    [Fact]
    public void LengthNotMatchingShapeIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", new byte[16]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'x': data_offsets [0, 12) hold 12 bytes but F32 shape [2, 2] needs 16", ex.Message);
    }

    [Fact]
    public void OffsetsBeyondBufferAreRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}""", new byte[8]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: tensor 'x': data_offsets [0, 12) exceed buffer length 8", ex.Message);
    }

    [Fact]
    public void TruncatedRealFileIsRejectedNamingTheLastTensor()
    {
        using var dir = new TempDirectory();
        string path = dir.File(FileName);
        byte[] whole = File.ReadAllBytes(Path.Combine(TestPaths.Fixtures, "tiny-llama", "base", FileName));
        File.WriteAllBytes(path, whole[..^100]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.StartsWith($"{FileName}: tensor 'model.norm.weight': data_offsets [607232, 607488) exceed buffer length 607388", ex.Message);
    }

    [Fact]
    public void OverlappingTensorsAreRejected()
    {
        using var dir = new TempDirectory();
        string header = """
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
            """;
        string path = dir.WriteRaw(FileName, header, new byte[12]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'b': data_offsets [4, 12) overlap tensor 'a' [0, 8)", ex.Message);
    }

    [Fact]
    public void DuplicateTensorNameIsRejected()
    {
        using var dir = new TempDirectory();
        string header = """
            {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
             "a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}
            """;
        string path = dir.WriteRaw(FileName, header, new byte[8]);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: tensor 'a': appears twice in the header", ex.Message);
    }

    [Fact]
    public void NonStringMetadataIsRejected()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteRaw(FileName, """{"__metadata__":{"step":3}}""", []);

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

        Assert.Equal($"{FileName}: '__metadata__' entry 'step' must be a string, found Number", ex.Message);
    }

    [Fact]
    public void IndexReferencingMissingShardIsRejectedAtOpen()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(
            dir.File(SafetensorsCheckpoint.IndexFileName),
            """{"metadata":{},"weight_map":{"w":"model-00001-of-00002.safetensors"}}""");

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path));

        Assert.Equal(
            $"{SafetensorsCheckpoint.IndexFileName}: tensor 'w': shard 'model-00001-of-00002.safetensors' does not exist",
            ex.Message);
    }

    [Fact]
    public void IndexMappingTensorToShardThatLacksItIsRejectedOnLookup()
    {
        using var dir = new TempDirectory();
        SafetensorsWriter.Write(dir.File("shard.safetensors"), [SafetensorsTensor.FromFloat32("present", [1f], [1])], null);
        File.WriteAllText(
            dir.File(SafetensorsCheckpoint.IndexFileName),
            """{"weight_map":{"present":"shard.safetensors","ghost":"shard.safetensors"}}""");

        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(dir.Path); // shards open lazily
        Assert.Equal([1f], checkpoint.ReadAsFloat32("present"));
        var ex = Assert.Throws<SafetensorsFormatException>(() => checkpoint.GetInfo("ghost"));
        Assert.Throws<SafetensorsFormatException>(checkpoint.VerifyAllShards);

        Assert.Equal(
            $"{SafetensorsCheckpoint.IndexFileName}: tensor 'ghost': mapped to shard 'shard.safetensors' but that shard does not hold it",
            ex.Message);
    }

    [Fact]
    public void IndexShardNameWithDirectoryIsRejected()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), """{"weight_map":{"w":"../elsewhere.safetensors"}}""");

        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path));

        Assert.Contains("tensor 'w'", ex.Message);
    }

    [Fact]
    public void WriterRejectsDataLengthNotMatchingShape()
    {
        using var dir = new TempDirectory();
        string path = dir.File(FileName);

        var ex = Assert.Throws<ArgumentException>(() =>
            SafetensorsWriter.Write(path, [new SafetensorsTensor("w", SafetensorsDType.F32, [3], new byte[8])], null));

        Assert.Contains($"{FileName}: tensor 'w': holds 8 bytes but F32 shape [3] needs 12", ex.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void WriterRejectsDuplicateNames()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(
            dir.File(FileName),
            [SafetensorsTensor.FromFloat32("w", [1f], [1]), SafetensorsTensor.FromFloat32("w", [2f], [1])],
            null));

        Assert.Contains("tensor 'w': given twice", ex.Message);
    }
}
