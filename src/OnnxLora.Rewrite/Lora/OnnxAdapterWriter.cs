// Writes ORT's multi-LoRA adapter file (.onnx_adapter): a FlatBuffer with file identifier "TORT",
// root table Adapter{format_version, adapter_version, model_version, parameters:[Parameter]} and
// Parameter{name, dims:[int64], data_type (ONNX enum), raw_data:[uint8] (force_align 8)}, per ORT's
// adapter_schema.fbs. Built by hand front to back (every offset points forward); no FlatBuffers package.
using System.Buffers.Binary;
using System.Text;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public static class OnnxAdapterWriter
{
    public const string FileIdentifier = "TORT";
    public const int FormatVersion = 1;
    public const string Extension = ".onnx_adapter";

    private const int RawDataAlignment = 16; // schema asks 8; 16 also suits SIMD loads

    public sealed record Parameter(string Name, ElementType Type, long[] Dims, byte[] RawData);

    /// <summary>Writes <paramref name="parameters"/> to <paramref name="path"/> atomically (temp + rename).</summary>
    public static void Write(string path, IReadOnlyList<Parameter> parameters, int adapterVersion = 1, int modelVersion = 1)
    {
        var bytes = Build(parameters, adapterVersion, modelVersion);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    public static byte[] Build(IReadOnlyList<Parameter> parameters, int adapterVersion = 1, int modelVersion = 1)
    {
        var buf = new Buffer();
        buf.U32(0); // root uoffset, patched below
        buf.Bytes(Encoding.ASCII.GetBytes(FileIdentifier));

        // Adapter vtable: 4 fields (format_version, adapter_version, model_version, parameters).
        int vtable = buf.Position;
        buf.VTable(tableSize: 20, 4, 8, 12, 16);
        buf.Align(4);
        int table = buf.Position;
        buf.PatchU32(0, (uint)table);
        buf.I32(table - vtable); // soffset to the vtable
        buf.I32(FormatVersion);
        buf.I32(adapterVersion);
        buf.I32(modelVersion);
        int parametersField = buf.Position;
        buf.U32(0);

        buf.Align(4);
        buf.PatchU32(parametersField, (uint)(buf.Position - parametersField));
        buf.U32((uint)parameters.Count);
        int slots = buf.Position;
        for (int i = 0; i < parameters.Count; i++)
        {
            buf.U32(0);
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            // Parameter vtable: name, dims, data_type, raw_data.
            buf.Align(2);
            int pv = buf.Position;
            buf.VTable(tableSize: 20, 4, 8, 12, 16);
            buf.Align(4);
            int pt = buf.Position;
            int slot = slots + (4 * i);
            buf.PatchU32(slot, (uint)(pt - slot));
            buf.I32(pt - pv);
            int nameField = buf.Position;
            buf.U32(0);
            int dimsField = buf.Position;
            buf.U32(0);
            buf.I32((int)p.Type);
            int rawField = buf.Position;
            buf.U32(0);

            buf.Align(4);
            buf.PatchU32(nameField, (uint)(buf.Position - nameField));
            var name = Encoding.UTF8.GetBytes(p.Name);
            buf.U32((uint)name.Length);
            buf.Bytes(name);
            buf.Bytes([0]);

            buf.AlignVectorData(8);
            buf.PatchU32(dimsField, (uint)(buf.Position - dimsField));
            buf.U32((uint)p.Dims.Length);
            foreach (var d in p.Dims)
            {
                buf.I64(d);
            }

            buf.AlignVectorData(RawDataAlignment);
            buf.PatchU32(rawField, (uint)(buf.Position - rawField));
            buf.U32((uint)p.RawData.Length);
            buf.Bytes(p.RawData);
        }
        buf.Align(8);
        return buf.ToArray();
    }

    private sealed class Buffer
    {
        private readonly MemoryStream _ms = new();

        public int Position => checked((int)_ms.Position);

        public void Bytes(ReadOnlySpan<byte> b) => _ms.Write(b);

        public void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            _ms.Write(b);
        }

        public void I32(int v) => U32(unchecked((uint)v));

        public void I64(long v)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            _ms.Write(b);
        }

        public void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            _ms.Write(b);
        }

        /// <summary>vtable: its own size, the table's inline size, then each field's offset in the table.</summary>
        public void VTable(int tableSize, params int[] fieldOffsets)
        {
            U16((ushort)(4 + (2 * fieldOffsets.Length)));
            U16((ushort)tableSize);
            foreach (var f in fieldOffsets)
            {
                U16((ushort)f);
            }
        }

        public void Align(int n)
        {
            while (_ms.Position % n != 0)
            {
                _ms.WriteByte(0);
            }
        }

        /// <summary>Pads so that the data after the 4-byte length prefix starts on an <paramref name="n"/>-byte boundary.</summary>
        public void AlignVectorData(int n)
        {
            while ((_ms.Position + 4) % n != 0)
            {
                _ms.WriteByte(0);
            }
        }

        public void PatchU32(int at, uint v)
        {
            long here = _ms.Position;
            _ms.Position = at;
            U32(v);
            _ms.Position = here;
        }

        public byte[] ToArray() => _ms.ToArray();
    }
}
