// One safetensors file, memory-mapped read-only: header parsed and validated on Open,
// tensor bytes served as spans over the mapping (no copy) or converted to float32/int64
// (by ElementConversion). It does not cache converted arrays, and spans must not outlive Dispose.
using System.IO.MemoryMappedFiles;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Safetensors;

public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;
    private bool _disposed;

    private SafetensorsFile(
        string filePath,
        long fileLength,
        long dataStart,
        FileStream stream,
        MemoryMappedFile map,
        MemoryMappedViewAccessor view,
        byte* basePointer,
        SafetensorsHeader header)
    {
        FilePath = filePath;
        FileLength = fileLength;
        DataStart = dataStart;
        _stream = stream;
        _map = map;
        _view = view;
        _base = basePointer;
        Metadata = header.Metadata;
        Names = header.Tensors.Select(t => t.Name).ToArray();
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Full path of the mapped file.</summary>
    public string FilePath { get; }

    public long FileLength { get; }

    /// <summary>Absolute offset of the data buffer (8 + header length); tensor offsets are relative to it in the header.</summary>
    public long DataStart { get; }

    /// <summary>The "__metadata__" entries; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in header order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <exception cref="SafetensorsFormatException">The file is not a well-formed safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        }
        string fullPath = Path.GetFullPath(path);

        // FileShare.Delete lets a writer atomically replace the file while we still map the old one.
        var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool pointerAcquired = false;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < SafetensorsHeader.LengthPrefixBytes)
            {
                throw new SafetensorsFormatException(
                    fullPath, null, $"file is {fileLength} bytes, too short for the {SafetensorsHeader.LengthPrefixBytes}-byte header length");
            }

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointerAcquired = true;
            pointer += view.PointerOffset;

            ulong rawHeaderLength = *(ulong*)pointer; // little-endian host checked above
            long headerLength = SafetensorsHeader.CheckHeaderLength(fullPath, rawHeaderLength, fileLength);
            long dataStart = SafetensorsHeader.LengthPrefixBytes + headerLength;

            // The header is at most 100 MB, so it is safe to copy out for JsonDocument.
            byte[] json = new ReadOnlySpan<byte>(pointer + SafetensorsHeader.LengthPrefixBytes, (int)headerLength).ToArray();
            SafetensorsHeader header = SafetensorsHeader.Parse(fullPath, json, dataStart, fileLength - dataStart);
            return new SafetensorsFile(fullPath, fileLength, dataStart, stream, map, view, pointer, header);
        }
        catch
        {
            if (pointerAcquired)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }

            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <exception cref="KeyNotFoundException">No tensor of that name.</exception>
    public SafetensorsTensorInfo GetInfo(string name)
    {
        if (!_byName.TryGetValue(name, out SafetensorsTensorInfo? info))
        {
            throw new KeyNotFoundException($"{Path.GetFileName(FilePath)}: no tensor '{name}'");
        }

        return info;
    }

    public bool TryGetInfo(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>The tensor's raw little-endian bytes, straight from the mapping. Valid until Dispose.</summary>
    public ReadOnlySpan<byte> GetBytes(string name) => GetBytes(GetInfo(name));

    /// <summary>The tensor converted to float32 (from F32, F16, BF16 or F64).</summary>
    public float[] ReadAsFloat32(string name)
    {
        SafetensorsTensorInfo info = GetInfo(name);
        var result = new float[CheckedElementCount(info)];
        CopyAsFloat32(info, result);
        return result;
    }

    /// <summary>Converts the tensor to float32 into destination, whose length must equal the element count.</summary>
    public void CopyAsFloat32(string name, Span<float> destination) => CopyAsFloat32(GetInfo(name), destination);

    /// <summary>The tensor as int64 (from I64 or I32).</summary>
    public long[] ReadInt64(string name)
    {
        SafetensorsTensorInfo info = GetInfo(name);
        if (!ElementConversion.CanReadAsInt64(info.DType.ToElementType()))
        {
            throw new SafetensorsFormatException(
                $"{Path.GetFileName(FilePath)}: tensor '{name}': is {info.DType.ToHeaderString()}, not I64 or I32");
        }

        var result = new long[CheckedElementCount(info)];
        ElementConversion.ToInt64(info.DType.ToElementType(), GetBytes(info), result);
        return result;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _stream.Dispose();
    }

    internal ReadOnlySpan<byte> GetBytes(SafetensorsTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (info.Length > int.MaxValue)
        {
            throw new SafetensorsFormatException(
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': {info.Length} bytes exceed the 2 GiB a span can address; use Offset/Length as external data");
        }

        return new ReadOnlySpan<byte>(_base + info.Offset, (int)info.Length);
    }

    internal void CopyAsFloat32(SafetensorsTensorInfo info, Span<float> destination)
    {
        if (!ElementConversion.CanReadAsFloat32(info.DType.ToElementType()))
        {
            throw new SafetensorsFormatException(
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': is {info.DType.ToHeaderString()}, not a float type");
        }

        if (destination.Length != info.ElementCount)
        {
            throw new ArgumentException(
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': has {info.ElementCount} elements but destination holds {destination.Length}",
                nameof(destination));
        }

        ElementConversion.ToFloat32(info.DType.ToElementType(), GetBytes(info), destination);
    }

    /// <summary>
    /// Converts elements [<paramref name="offset"/>, offset + destination.Length) of the tensor (row-major) to float32:
    /// a block of a tensor of any size, so callers can stream matrices larger than a span or than memory allows.
    /// </summary>
    internal void CopyAsFloat32(SafetensorsTensorInfo info, long offset, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!ElementConversion.CanReadAsFloat32(info.DType.ToElementType()))
        {
            throw new SafetensorsFormatException(
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': is {info.DType.ToHeaderString()}, not a float type");
        }
        if (offset < 0 || offset + destination.Length > info.ElementCount)
        {
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': elements [{offset}, {offset + destination.Length}) outside its {info.ElementCount}");
        }
        int size = info.DType.ElementSize();
        var bytes = new ReadOnlySpan<byte>(_base + info.Offset + offset * size, destination.Length * size);
        ElementConversion.ToFloat32(info.DType.ToElementType(), bytes, destination);
    }

    private int CheckedElementCount(SafetensorsTensorInfo info)
    {
        long count = info.ElementCount;
        if (count > Array.MaxLength)
        {
            throw new SafetensorsFormatException(
                $"{Path.GetFileName(FilePath)}: tensor '{info.Name}': {count} elements exceed a managed array; stream it instead");
        }

        return (int)count;
    }
}
