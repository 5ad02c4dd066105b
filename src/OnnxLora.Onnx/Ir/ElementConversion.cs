// Element-wise conversion between float32 and the storage dtypes (fp16, bf16, fp64).
// bf16 rounds to nearest-even, as torch does; nothing here allocates.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace OnnxLora.Onnx.Ir;

public static class ElementConversion
{
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
                var bf = MemoryMarshal.Cast<byte, ushort>(src);
                var bits = MemoryMarshal.Cast<float, uint>(dst);
                for (int i = 0; i < bf.Length; i++)
                {
                    bits[i] = (uint)bf[i] << 16;
                }
                break;
            case ElementType.Double:
                var d = MemoryMarshal.Cast<byte, double>(src);
                for (int i = 0; i < d.Length; i++)
                {
                    dst[i] = (float)d[i];
                }
                break;
            default:
                throw new NotSupportedException($"cannot read {type.OnnxName()} as float32");
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

    /// <summary>float32 bits → bfloat16 bits, round to nearest even; NaN stays NaN.</summary>
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
