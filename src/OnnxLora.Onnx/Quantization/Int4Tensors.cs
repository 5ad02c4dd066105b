// The three builder tensors of one int4 weight held in memory: codes, scales (bytes in the scale dtype) and, when
// asymmetric, zero points. For tests and small weights; models stream them (Int4StreamedWeight) instead.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public sealed record Int4Tensors(Int4BlockLayout Layout, ElementType ScaleType, byte[] Codes, byte[] Scales, byte[]? ZeroPoints)
{
    /// <summary>Scales widened to float32, (N·kb).</summary>
    public float[] ScalesAsFloat()
    {
        var f = new float[Layout.ScaleCount];
        ElementConversion.ToFloat32(ScaleType, Scales, f);
        return f;
    }

    /// <summary>W (K,N) row-major as MatMulNBits sees it.</summary>
    public float[] Dequantize()
    {
        var w = new float[(long)Layout.K * Layout.N];
        Int4Dequantizer.Dequantize(Layout, Codes, ScalesAsFloat(), ZeroPoints, 0, Layout.K, 0, Layout.N, w);
        return w;
    }
}
