// Shape arithmetic shared by reader and writer: element count and byte length,
// overflow-checked. Returns null on overflow so callers can phrase their own error.
namespace OnnxLora.Onnx.Safetensors;

internal static class SafetensorsShape
{
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            count = checked(count * dim);
        }

        return count;
    }

    /// <summary>Bytes needed for shape at dtype, or null if a dim is negative or the product overflows.</summary>
    public static long? ByteLength(ReadOnlySpan<long> shape, SafetensorsDType dtype)
    {
        try
        {
            foreach (long dim in shape)
            {
                if (dim < 0)
                {
                    return null;
                }
            }

            return checked(ElementCount(shape) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    public static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
