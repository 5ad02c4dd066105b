// Write-only pass-through stream that refuses to carry more than a fixed number of bytes,
// so a streamed tensor callback cannot overrun into the next tensor. It does not own
// or close the inner stream; the caller checks Written == expected afterwards.
namespace OnnxLora.Onnx.Safetensors;

internal sealed class ExactLengthWriteStream(Stream inner, long limit, string fileName, string tensorName) : Stream
{
    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Written + buffer.Length > limit)
        {
            throw new InvalidOperationException(
                $"{fileName}: tensor '{tensorName}': callback wrote more than the {limit} bytes its shape allows");
        }

        inner.Write(buffer);
        Written += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
