// One weight quantized to int4 while the model writer streams it out: the codes, scales and zero-point initializers
// are generators that pull column strips of the float weight (bounded memory: one strip of K·S floats plus the
// scales, 1/8 of the fp32 weight at block 32) from a ColumnStripSource and quantize them with Int4Quantizer.
// Codes are written strip by strip; scales and zero points are kept from that pass for their own initializers
// (recomputed if the writer asks for them first). Optionally it measures max |W − dequant(W)| on the way.
// It does not decide which weights to quantize or touch the graph.
// K=in features, N=out features, S=columns per strip
using System.Globalization;
using System.Numerics.Tensors;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public sealed class Int4StreamedWeight
{
    /// <summary>Floats per strip buffer (8 MB).</summary>
    public const int StripFloats = 2 << 20;

    private readonly ColumnStripSource _source;
    private readonly bool _measureError;
    private readonly Action? _started;
    private byte[]? _scales;
    private byte[]? _zeroPoints;

    /// <param name="measureError">also dequantize each strip and keep max |W − dequant(W)| (<see cref="MaxAbsError"/>).</param>
    /// <param name="started">called when the codes pass begins (progress).</param>
    public Int4StreamedWeight(string weight, Int4BlockLayout layout, ElementType scaleType, ColumnStripSource source,
        bool measureError = false, Action? started = null)
    {
        Int4Quantizer.CheckScaleType(scaleType);
        Weight = weight;
        Layout = layout;
        ScaleType = scaleType;
        _source = source;
        _measureError = measureError;
        _started = started;
    }

    /// <summary>After the codes were written with measureError: max |W − dequant(W)| over the weight.</summary>
    public float MaxAbsError { get; private set; }

    /// <summary>After the codes were written with measureError: the largest |scale| (one quantization step).</summary>
    public float MaxStep { get; private set; }

    /// <summary>Name of the float weight; initializers are named after it (MatMulNBits.CodesName etc.).</summary>
    public string Weight { get; }

    public Int4BlockLayout Layout { get; }

    public ElementType ScaleType { get; }

    /// <summary>The builder's initializers: codes, scales and (asymmetric only) zero points.</summary>
    /// <param name="gatherLayout">shape them for GatherBlockQuantized (2-D, one row per embedding row) instead of MatMulNBits.</param>
    public IReadOnlyList<Initializer> Initializers(bool gatherLayout = false)
    {
        var (codeDims, scaleDims, zeroPointDims) = gatherLayout ? GatherBlockQuantized.Dims(Layout) : (Layout.CodeDims, Layout.ScaleDims, Layout.ZeroPointDims);
        var list = new List<Initializer>
        {
            new(MatMulNBits.CodesName(Weight), ElementType.UInt8, codeDims, TensorData.FromGenerator(Layout.CodeBytes, WriteCodes)),
            new(MatMulNBits.ScalesName(Weight), ScaleType, scaleDims,
                TensorData.FromGenerator(Layout.ScaleCount * ScaleType.SizeInBytes(), WriteScales)),
        };
        if (!Layout.Symmetric)
        {
            list.Add(new(MatMulNBits.ZeroPointsName(Weight), ElementType.UInt8, zeroPointDims,
                TensorData.FromGenerator(Layout.ZeroPointBytes, WriteZeroPoints)));
        }
        return list;
    }

    private void WriteCodes(Stream dst)
    {
        var l = Layout;
        int k = l.K, kb = l.BlocksPerColumn, esize = ScaleType.SizeInBytes();
        int stripColumns = Math.Clamp(StripFloats / k, 1, l.N);
        var strip = new float[(long)k * stripColumns];
        var codes = new byte[(long)stripColumns * l.CodeBytesPerColumn];
        var scales = new float[(long)stripColumns * kb];
        var zeroPoints = new byte[(long)stripColumns * l.ZeroPointBytesPerColumn];
        var column = new float[k];
        var allScales = new byte[l.ScaleCount * esize];
        var allZeroPoints = new byte[l.ZeroPointBytes];
        var dequantized = _measureError ? new float[strip.Length] : null;
        _started?.Invoke();
        for (int n0 = 0; n0 < l.N; n0 += stripColumns)
        {
            int count = Math.Min(stripColumns, l.N - n0);
            var s = strip.AsSpan(0, k * count);
            _source(n0, count, s);
            try
            {
                Int4Quantizer.QuantizeStrip(s, count, l, ScaleType, codes, scales, zeroPoints, column, n0);
            }
            catch (BadInputException e)
            {
                throw new InvalidDataException($"weight '{Weight}': cannot quantize: {e.Message}", e);
            }
            if (dequantized is not null)
            {
                Measure(s, count, codes, scales, zeroPoints, dequantized);
            }
            dst.Write(codes, 0, count * l.CodeBytesPerColumn);
            ElementConversion.FromFloat32(ScaleType, scales.AsSpan(0, count * kb), allScales.AsSpan(n0 * kb * esize, count * kb * esize));
            if (!l.Symmetric)
            {
                int zb = l.ZeroPointBytesPerColumn;
                zeroPoints.AsSpan(0, count * zb).CopyTo(allZeroPoints.AsSpan(n0 * zb));
            }
        }
        _scales = allScales;
        _zeroPoints = l.Symmetric ? null : allZeroPoints;
    }

    // Dequantizes the strip just quantized ((K,count) in the strip's own layout) and updates the error figures.
    private void Measure(ReadOnlySpan<float> strip, int count, byte[] codes, float[] scales, byte[] zeroPoints, float[] dequantized)
    {
        var stripLayout = new Int4BlockLayout(Layout.K, count, Layout.BlockSize, Layout.Symmetric);
        var d = dequantized.AsSpan(0, strip.Length);
        Int4Dequantizer.Dequantize(stripLayout, codes, scales, Layout.Symmetric ? [] : zeroPoints, 0, Layout.K, 0, count, d);
        for (int i = 0; i < d.Length; i++)
        {
            MaxAbsError = MathF.Max(MaxAbsError, MathF.Abs(d[i] - strip[i]));
        }
        MaxStep = MathF.Max(MaxStep, MathF.Abs(TensorPrimitives.MaxMagnitude(scales.AsSpan(0, count * Layout.BlocksPerColumn))));
    }

    private void WriteScales(Stream dst)
    {
        if (_scales is null)
        {
            WriteCodes(Stream.Null);
        }
        dst.Write(_scales);
        _scales = null;
    }

    private void WriteZeroPoints(Stream dst)
    {
        if (_zeroPoints is null)
        {
            WriteCodes(Stream.Null);
        }
        dst.Write(_zeroPoints ?? throw new InvalidOperationException(
            string.Create(CultureInfo.InvariantCulture, $"weight '{Weight}': symmetric layout has no zero points")));
        _zeroPoints = null;
    }
}
