// Working memory of one import, reused for every tensor: the float block, a tile of source rows and
// the converted bytes grow to the largest block once. It lives outside the GC heap and is freed on
// Dispose, so a training run that follows in the same process does not carry it (no forced GC needed).
using System.Runtime.InteropServices;

namespace OnnxLora.Models.Import;

internal sealed unsafe class ImportScratch : IDisposable
{
    private readonly Buffer _values = new();
    private readonly Buffer _tile = new();
    private readonly Buffer _bytes = new();

    /// <summary>At least <paramref name="count"/> floats (a block of source values, or a transposed block).</summary>
    public Span<float> Values(int count) => _values.Get<float>(count);

    /// <summary>At least <paramref name="count"/> floats for one tile of source rows.</summary>
    public Span<float> Tile(int count) => _tile.Get<float>(count);

    /// <summary>At least <paramref name="count"/> bytes for a converted block.</summary>
    public Span<byte> Bytes(int count) => _bytes.Get<byte>(count);

    public void Dispose()
    {
        _values.Free();
        _tile.Free();
        _bytes.Free();
    }

    private sealed class Buffer
    {
        private void* _pointer;
        private nuint _bytes;

        public Span<T> Get<T>(int count) where T : unmanaged
        {
            nuint needed = (nuint)count * (nuint)sizeof(T);
            if (needed > _bytes)
            {
                Free();
                _pointer = NativeMemory.Alloc(needed);
                _bytes = needed;
            }
            return new Span<T>(_pointer, count);
        }

        public void Free()
        {
            NativeMemory.Free(_pointer);
            _pointer = null;
            _bytes = 0;
        }
    }
}
