// The project's one element conversion: raw little-endian tensor bytes of a storage dtype
// (fp16, bf16, fp64, int32) widened to float32/int64, and float32 narrowed back to fp16/bf16.
// bf16 rounds to nearest-even as torch does and keeps NaN quiet. Safetensors reads come through
// here too (SafetensorsDTypes maps their dtypes to ElementType). Nothing here allocates.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Ir;

public static class ElementConversion
{
    public static bool CanReadAsFloat32(ElementType type) =>
        type is ElementType.Float or ElementType.Float16 or ElementType.BFloat16 or ElementType.Double;

    public static bool CanReadAsInt64(ElementType type) => type is ElementType.Int64 or ElementType.Int32;

    /// <summary><paramref name="src"/> holds exactly dst.Length elements of <paramref name="type"/>.</summary>
    public static void ToFloat32(ElementType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case ElementType.Float:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case ElementType.Float16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
                break;
            case ElementType.BFloat16:
                // bf16 is the top half of a float32: shift back and reinterpret (exact).
                var bf = MemoryMarshal.Cast<byte, ushort>(src);
                var bits = MemoryMarshal.Cast<float, uint>(dst);
                for (int i = 0; i < bf.Length; i++)
                {
                    bits[i] = (uint)bf[i] << 16;
                }
                break;
            case ElementType.Double:
                // Round to nearest, as the (float) cast does.
                TensorPrimitives.ConvertTruncating<double, float>(MemoryMarshal.Cast<byte, double>(src), dst);
                break;
            default:
                throw new NotSupportedException($"cannot read {type.OnnxName()} as float32");
        }
    }

    /// <summary><paramref name="src"/> holds exactly dst.Length elements of <paramref name="type"/> (int64 or int32).</summary>
    public static void ToInt64(ElementType type, ReadOnlySpan<byte> src, Span<long> dst)
    {
        switch (type)
        {
            case ElementType.Int64:
                MemoryMarshal.Cast<byte, long>(src).CopyTo(dst);
                break;
            case ElementType.Int32:
                var ints = MemoryMarshal.Cast<byte, int>(src);
                for (int i = 0; i < ints.Length; i++)
                {
                    dst[i] = ints[i];
                }
                break;
            default:
                throw new NotSupportedException($"cannot read {type.OnnxName()} as int64");
        }
    }

    public static void FromFloat32(ElementType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (type)
        {
            case ElementType.Float:
                MemoryMarshal.AsBytes(src).CopyTo(dst);
                break;
            case ElementType.Float16:
                TensorPrimitives.ConvertToHalf(src, MemoryMarshal.Cast<byte, Half>(dst));
                break;
            case ElementType.BFloat16:
                var outBits = MemoryMarshal.Cast<byte, ushort>(dst);
                var inBits = MemoryMarshal.Cast<float, uint>(src);
                for (int i = 0; i < src.Length; i++)
                {
                    outBits[i] = ToBFloat16Bits(inBits[i]);
                }
                break;
            default:
                throw new NotSupportedException($"cannot write float32 as {type.OnnxName()}");
        }
    }

    /// <summary>float32 bits → bfloat16 bits, round to nearest even; NaN stays NaN (quiet bit set).</summary>
    public static ushort ToBFloat16Bits(uint f)
    {
        if ((f & 0x7FFFFFFFu) > 0x7F800000u)
        {
            return (ushort)((f >> 16) | 0x40);
        }
        uint rounding = 0x7FFFu + ((f >> 16) & 1u);
        return (ushort)((f + rounding) >> 16);
    }
}
