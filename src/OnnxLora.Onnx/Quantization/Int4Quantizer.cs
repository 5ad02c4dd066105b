// Round-to-nearest int4 block quantization, value for value as ORT's MLAS quantizer (BlockwiseQuantizer::
// quantizeAndTranspose, reached from the GenAI builder through MatMulNBitsQuantizer's default algorithm) computes it,
// so our int4 files equal the builder's byte for byte. Per block, in fp32: min/max over the real values only;
// symmetric scale = −m/8 where m is the one of min, max with the larger magnitude (ties → min), zero point 8;
// asymmetric range widened to include 0, scale = (max−min)/15, zero point = roundf(−min/scale) clamped to [0,15].
// The scale is rounded to the weight dtype first, and codes use its reciprocal: clamp(roundf(v·(1/s) + zp), 0, 15).
// It quantizes columns handed to it; reading weights and writing initializers are Int4StreamedWeight's job.
// K=in features (the blocked axis), N=out features, kb=blocks per column
using System.Globalization;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public static class Int4Quantizer
{
    /// <summary>Quantizes one column of W (its K values).</summary>
    /// <param name="column">(K) the column's values in float32.</param>
    /// <param name="scaleType">dtype the scales are stored in (float32 or float16); the rounded scale is what codes use.</param>
    /// <param name="codes">(kb·BlockSize/2) the column's packed codes; bytes past K are zero.</param>
    /// <param name="scales">(kb) the scales as stored, widened to float32.</param>
    /// <param name="zeroPoints">(ceil(kb/2)) packed zero points; empty when the layout is symmetric.</param>
    public static void QuantizeColumn(ReadOnlySpan<float> column, Int4BlockLayout layout, ElementType scaleType,
        Span<byte> codes, Span<float> scales, Span<byte> zeroPoints)
    {
        CheckScaleType(scaleType);
        int k = layout.K, block = layout.BlockSize, kb = layout.BlocksPerColumn, blob = layout.BlobBytes;
        if (column.Length < k || codes.Length < layout.CodeBytesPerColumn || scales.Length < kb
            || (!layout.Symmetric && zeroPoints.Length < layout.ZeroPointBytesPerColumn))
        {
            throw new ArgumentException("int4 quantize: a buffer is smaller than the layout needs");
        }
        codes[..layout.CodeBytesPerColumn].Clear();
        for (int j = 0; j < kb; j++)
        {
            int start = j * block, end = Math.Min(k, start + block);
            var values = column[start..end];
            float min = float.MaxValue, max = -float.MaxValue;
            for (int i = 0; i < values.Length; i++)
            {
                float v = values[i];
                if (!float.IsFinite(v))
                {
                    throw new BadInputException(string.Create(CultureInfo.InvariantCulture, $"non-finite value {v} at row {start + i}"));
                }
                if (v < min)
                {
                    min = v;
                }
                if (v > max)
                {
                    max = v;
                }
            }

            float scale;
            byte zp;
            if (layout.Symmetric)
            {
                float m = MathF.Abs(max) > MathF.Abs(min) ? max : min;
                scale = -m / Int4BlockLayout.DefaultZeroPoint;
                zp = Int4BlockLayout.DefaultZeroPoint;
            }
            else
            {
                min = 0f < min ? 0f : min; // std::min(min, 0.0f)
                max = max < 0f ? 0f : max; // std::max(max, 0.0f)
                scale = (max - min) / Int4BlockLayout.MaxCode;
                float zpFp = min;
                if (scale != 0f)
                {
                    zpFp = 0f - (min / scale);
                }
                zp = zpFp < 0f ? (byte)0
                    : zpFp > Int4BlockLayout.MaxCode ? (byte)Int4BlockLayout.MaxCode
                    : (byte)MathF.Round(zpFp, MidpointRounding.AwayFromZero);
                int zpByte = j >> 1;
                if ((j & 1) == 0)
                {
                    zeroPoints[zpByte] = (byte)(Int4BlockLayout.DefaultZeroPoint << 4 | zp); // high nibble 8 until block j+1 fills it
                }
                else
                {
                    zeroPoints[zpByte] = (byte)((zeroPoints[zpByte] & 0x0F) | (zp << 4));
                }
            }

            float stored = RoundToStorage(scale, scaleType);
            scales[j] = stored;
            float reciprocal = stored != 0f ? 1f / stored : 0f;
            float zpF = zp;
            var blockCodes = codes.Slice(j * blob, blob);
            for (int i = 0; i < values.Length; i++)
            {
                float x = values[i] * reciprocal; // rounded to fp32 before the add: no fused multiply-add
                x += zpF;
                float q = Math.Clamp(MathF.Round(x, MidpointRounding.AwayFromZero), 0f, Int4BlockLayout.MaxCode);
                byte code = (byte)q;
                blockCodes[i >> 1] |= (i & 1) == 0 ? code : (byte)(code << 4);
            }
        }
    }

    /// <summary>Quantizes a strip of columns of W.</summary>
    /// <param name="strip">(K, count) row-major: columns firstColumn.. of W.</param>
    /// <param name="codes">(count, kb, BlockSize/2) the strip's codes.</param>
    /// <param name="scales">(count, kb) the strip's scales as stored, widened to float32.</param>
    /// <param name="zeroPoints">(count, ceil(kb/2)); empty when symmetric.</param>
    /// <param name="column">scratch of at least K floats.</param>
    /// <param name="firstColumn">index in W of the strip's first column (for error messages).</param>
    public static void QuantizeStrip(ReadOnlySpan<float> strip, int count, Int4BlockLayout layout, ElementType scaleType,
        Span<byte> codes, Span<float> scales, Span<byte> zeroPoints, Span<float> column, int firstColumn = 0)
    {
        int k = layout.K, kb = layout.BlocksPerColumn, cb = layout.CodeBytesPerColumn, zb = layout.ZeroPointBytesPerColumn;
        for (int c = 0; c < count; c++)
        {
            for (int i = 0; i < k; i++)
            {
                column[i] = strip[(i * count) + c];
            }
            try
            {
                QuantizeColumn(column[..k], layout, scaleType, codes.Slice(c * cb, cb), scales.Slice(c * kb, kb),
                    layout.Symmetric ? [] : zeroPoints.Slice(c * zb, zb));
            }
            catch (BadInputException e)
            {
                throw new BadInputException(string.Create(CultureInfo.InvariantCulture, $"{e.Message}, column {firstColumn + c}"), e);
            }
        }
    }

    /// <summary>Quantizes a whole (K,N) row-major matrix; for tests and small weights (big ones stream through Int4StreamedWeight).</summary>
    public static Int4Tensors Quantize(ReadOnlySpan<float> w, Int4BlockLayout layout, ElementType scaleType = ElementType.Float)
    {
        if (w.Length != (long)layout.K * layout.N)
        {
            throw new BadInputException(string.Create(CultureInfo.InvariantCulture,
                $"int4 quantize: {w.Length} values for K={layout.K}·N={layout.N}"));
        }
        var codes = new byte[layout.CodeBytes];
        var scales = new float[layout.ScaleCount];
        var zeroPoints = new byte[layout.ZeroPointBytes];
        QuantizeStrip(w, layout.N, layout, scaleType, codes, scales, zeroPoints, new float[layout.K]);
        var scaleBytes = new byte[scales.Length * scaleType.SizeInBytes()];
        ElementConversion.FromFloat32(scaleType, scales, scaleBytes);
        return new Int4Tensors(layout, scaleType, codes, scaleBytes, layout.Symmetric ? null : zeroPoints);
    }

    /// <summary>The scale as the weight dtype stores it, widened back to float32.</summary>
    public static float RoundToStorage(float scale, ElementType scaleType) =>
        scaleType == ElementType.Float16 ? (float)(Half)scale : scale;

    public static void CheckScaleType(ElementType scaleType)
    {
        if (scaleType is not (ElementType.Float or ElementType.Float16))
        {
            throw new BadInputException(
                $"int4 scales in {scaleType.OnnxName()} are not supported (the builder's quantizer and ORT's CPU MatMulNBits take float32 or float16)");
        }
    }
}
