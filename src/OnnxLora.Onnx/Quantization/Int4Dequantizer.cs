// MatMulNBits' view of an int4 weight: W[k,n] = (code − zero point) · scale, the difference taken in integers and
// multiplied in float32, as ORT's kernel and MLAS' dequantize compute it. The zero point is 8 when there is no
// zero-point tensor. It reads any rectangle of W from the packed tensors, so callers can stream rows (fold, training)
// or column strips (requantization) without materialising the matrix; it does not read initializers itself.
// K=in features (the blocked axis), N=out features, kb=blocks per column
namespace OnnxLora.Onnx.Quantization;

public static class Int4Dequantizer
{
    /// <summary>Writes W[row0.., col0..] into <paramref name="dst"/>, (rows, cols) row-major.</summary>
    /// <param name="codes">(N, kb, BlockSize/2) packed codes.</param>
    /// <param name="scales">(N·kb) scales widened to float32; only columns col0.. are read.</param>
    /// <param name="zeroPoints">(N·ceil(kb/2)) packed zero points, or null/empty for the default 8.</param>
    public static void Dequantize(Int4BlockLayout layout, ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales,
        ReadOnlySpan<byte> zeroPoints, int row0, int rows, int col0, int cols, Span<float> dst)
    {
        if (row0 < 0 || col0 < 0 || row0 + rows > layout.K || col0 + cols > layout.N || dst.Length < (long)rows * cols)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"int4 dequantize: rectangle [{row0}+{rows}, {col0}+{cols}] outside K={layout.K}, N={layout.N}");
        }
        bool hasZeroPoints = !zeroPoints.IsEmpty;
        int kb = layout.BlocksPerColumn, blob = layout.BlobBytes, block = layout.BlockSize;
        int cb = layout.CodeBytesPerColumn, zb = layout.ZeroPointBytesPerColumn;
        for (int c = 0; c < cols; c++)
        {
            int n = col0 + c;
            var colCodes = codes.Slice(n * cb, cb);
            var colScales = scales.Slice(n * kb, kb);
            for (int r = 0; r < rows; r++)
            {
                int k = row0 + r, j = k / block, within = k - (j * block);
                int packed = colCodes[(j * blob) + (within >> 1)];
                int code = (within & 1) == 0 ? packed & 0x0F : packed >> 4;
                int zp = Int4BlockLayout.DefaultZeroPoint;
                if (hasZeroPoints)
                {
                    int z = zeroPoints[(n * zb) + (j >> 1)];
                    zp = (j & 1) == 0 ? z & 0x0F : z >> 4;
                }
                dst[(r * cols) + c] = (code - zp) * colScales[j];
            }
        }
    }

    /// <summary>One column (K values) of W.</summary>
    public static void DequantizeColumn(Int4BlockLayout layout, ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales,
        ReadOnlySpan<byte> zeroPoints, int column, Span<float> dst) =>
        Dequantize(layout, codes, scales, zeroPoints, 0, layout.K, column, 1, dst);
}
