// Widening/narrowing of raw little-endian tensor bytes into float32 and int64 spans.
// F16 via TensorPrimitives; BF16 is the top half of a float32, so it is a 16-bit shift.
// No allocation here: callers own the destination.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Safetensors;

internal static class SafetensorsConvert
{
    public static bool CanConvertToFloat32(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F64;

    public static bool CanConvertToInt64(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.I64 or SafetensorsDType.I32;

    /// <summary>source holds exactly destination.Length elements of dtype.</summary>
    public static void ToFloat32(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case SafetensorsDType.BF16:
                BFloat16ToFloat32(MemoryMarshal.Cast<byte, ushort>(source), destination);
                break;
            case SafetensorsDType.F64:
                TensorPrimitives.ConvertTruncating<double, float>(MemoryMarshal.Cast<byte, double>(source), destination);
                break;
            default:
                throw new InvalidOperationException($"{dtype} does not convert to float32");
        }
    }

    public static void ToInt64(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<long> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.I64:
                MemoryMarshal.Cast<byte, long>(source).CopyTo(destination);
                break;
            case SafetensorsDType.I32:
                ReadOnlySpan<int> ints = MemoryMarshal.Cast<byte, int>(source);
                for (int i = 0; i < ints.Length; i++)
                {
                    destination[i] = ints[i];
                }

                break;
            default:
                throw new InvalidOperationException($"{dtype} does not convert to int64");
        }
    }

    /// <summary>bfloat16 is float32 with the low 16 mantissa bits dropped: shift back and reinterpret.</summary>
    public static void BFloat16ToFloat32(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        Span<uint> bits = MemoryMarshal.Cast<float, uint>(destination);
        for (int i = 0; i < source.Length; i++)
        {
            bits[i] = (uint)source[i] << 16;
        }
    }

    /// <summary>Round-to-nearest-even float32 → bfloat16 (NaN kept quiet). Used by tests and writers.</summary>
    public static ushort Float32ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        }
    }
}
