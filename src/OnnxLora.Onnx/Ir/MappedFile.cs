// A read-only memory map of a whole file, shared by every tensor that lives in it.
// Weights are read through spans over the map, so nothing is copied into managed memory
// until a caller asks for it. Maps are cached per full path for the life of the process.
using System.Collections.Concurrent;
using System.IO.MemoryMappedFiles;

namespace OnnxLora.Onnx.Ir;

public sealed unsafe partial class MappedFile : IDisposable
{
    private static readonly ConcurrentDictionary<string, MappedFile> s_cache = new(StringComparer.Ordinal);

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _pointer;

    private MappedFile(string path)
    {
        Path = path;
        Length = new FileInfo(path).Length;
        if (Length == 0)
        {
            return;
        }
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
    }

    public string Path { get; }

    public long Length { get; }

    /// <summary>Returns the shared map of <paramref name="path"/>, opening it on first use.</summary>
    public static MappedFile Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        return s_cache.GetOrAdd(full, static p => new MappedFile(p));
    }

    /// <summary>Drops the cached map of a file (call before replacing or deleting it).</summary>
    public static void Evict(string path)
    {
        if (s_cache.TryRemove(System.IO.Path.GetFullPath(path), out var m))
        {
            m.Dispose();
        }
    }

    public ReadOnlySpan<byte> Slice(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new InvalidDataException(
                $"{Path}: range [{offset}, {offset + length}) lies outside the file of {Length} bytes");
        }
        if (length > int.MaxValue)
        {
            throw new BadInputException($"{Path}: a single span of {length} bytes exceeds 2 GiB");
        }
        return new ReadOnlySpan<byte>(_pointer + offset, (int)length);
    }

    /// <summary>
    /// The address of bytes [offset, offset + length) in the map, for native readers (ORT shared initializers).
    /// Valid while the map is cached: until <see cref="Evict"/> of its path or the end of the process.
    /// </summary>
    public nint Address(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new InvalidDataException(
                $"{Path}: range [{offset}, {offset + length}) lies outside the file of {Length} bytes");
        }
        return (nint)(_pointer + offset);
    }

    /// <summary>
    /// Marks bytes [offset, offset + length) as read at random (madvise MADV_RANDOM; Linux only, elsewhere nothing):
    /// a page fault there then brings in that page, not the read-ahead window around it (8 MiB on this machine), so a
    /// table read a few rows at a time (an embedding) only becomes resident where it is read. Pages only partly inside
    /// the range keep the default. Returns whether the kernel took the advice.
    /// </summary>
    public bool AdviseRandomAccess(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new InvalidDataException(
                $"{Path}: range [{offset}, {offset + length}) lies outside the file of {Length} bytes");
        }
        if (!OperatingSystem.IsLinux() || _pointer is null)
        {
            return false;
        }
        long page = Environment.SystemPageSize;
        long start = ((long)(_pointer + offset) + page - 1) / page * page, end = (long)(_pointer + offset + length) / page * page;
        return end > start && Madvise((nint)start, (nuint)(end - start), MadviseRandom) == 0;
    }

    private const int MadviseRandom = 1; // MADV_RANDOM

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}
