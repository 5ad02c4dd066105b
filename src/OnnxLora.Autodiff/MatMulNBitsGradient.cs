// dA of the frozen int4 linear Y = MatMulNBits(A, B_q4, scales[, zero_points]) = A @ W, W (K,N) dequantized
// from the builder's layout: dA = GY @ Wᵀ, where Wᵀ (N,K) is exactly what the codes (N, kb, block/2) unpack to.
// The dequantization is built in standard ops (Cast, Floor, Mul, Sub, Concat, Reshape, Slice: CPU and CUDA
// kernels, no uint4 tensor type needed) inside the backward pass, from a view of the codes ordered after the
// gradient (Rematerializer.OrderedView), so ORT can neither constant-fold it at session start nor run it in the
// forward pass: each layer's float weight exists only while its dX MatMul runs. Wide weights (the LM head) are
// done in column chunks of at most GradientOptions.Int4ChunkBytes, each ordered after the previous partial sum, so at most one
// chunk is dequantized at a time. W = (code − zero point) · scale in float32, as MatMulNBits and MLAS compute it.
// No gradient for B, scales or zero points (frozen). GY (...,N), A (...,K), kb = ceil(K/block).
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff;

internal static class MatMulNBitsGradient
{
    /// <summary>MatMulNBits' zero point when the node has no zero_points input (2^(bits−1)).</summary>
    public const float DefaultZeroPoint = 8f;

    public static string OfA(GradientContext g)
    {
        var n = g.Node;
        long k = n.GetInt("K", -1), nOut = n.GetInt("N", -1), block = n.GetInt("block_size", -1), bits = n.GetInt("bits", 4);
        if (k <= 0 || nOut <= 0 || block <= 0 || bits != 4 || n.GetInt("weight_prepacked", 0) != 0)
        {
            throw new BadInputException($"{n}: no gradient for MatMulNBits other than 4-bit, unprepacked, with K, N and block_size");
        }
        long kb = (k + block - 1) / block;
        long chunk = Math.Max(1, Math.Min(nOut, g.Options.Int4ChunkBytes / (k * sizeof(float))));
        var b = g.B;
        string gy = g.GY, trigger = gy, acc = "";
        for (long n0 = 0; n0 < nOut; n0 += chunk)
        {
            long n1 = Math.Min(nOut, n0 + chunk);
            var w = Dequantize(b, n, k, kb, block, n0, n1, trigger); // (n1-n0, K) float32
            w = b.Op("CastLike", w, gy);
            // each GY slice is taken after the previous partial sum, so one slice lives at a time
            var gyPart = n0 == 0 && n1 == nOut ? gy : b.Slice(n0 == 0 ? gy : Rematerializer.OrderedView(b, gy, trigger), [n0], [n1], [-1]);
            var part = b.MatMul(gyPart, w); // (...,K)
            acc = acc.Length == 0 ? part : b.Add(acc, part);
            trigger = acc;
        }
        return acc;
    }

    // Wᵀ rows [n0, n1): (n1-n0, K) float32 from the node's initializers, ordered after `trigger`.
    private static string Dequantize(GraphBuilder b, Node n, long k, long kb, long block, long n0, long n1, string trigger)
    {
        long rows = n1 - n0, blob = block / 2;
        var codes = Rematerializer.OrderedView(b, n.Input(1), trigger); // (N, kb, blob) uint8
        if (rows != n.GetInt("N", -1))
        {
            codes = b.Slice(codes, [n0], [n1], [0]);
        }
        var c = b.Cast(codes, ElementType.Float);
        var high = b.Op("Floor", b.Mul(c, b.Scalar(1f / 16))); // k = 2i+1: high nibble
        var low = b.Sub(c, b.Mul(high, b.Scalar(16f)));         // k = 2i: low nibble
        var q = b.Reshape(b.Concat(-1, b.Unsqueeze(low, -1), b.Unsqueeze(high, -1)), rows, kb, block); // (rows, kb, block)
        // scales and zero points are read through the same ordered view as the codes: a chain from the bare initializer
        // could be constant-folded into a float copy at session start, or run in the forward pass and be kept until here
        var scales = b.Reshape(b.Cast(Rematerializer.OrderedView(b, n.Input(2), trigger), ElementType.Float), n.GetInt("N", -1), kb, 1);
        string zero;
        if (n.Input(3).Length == 0)
        {
            zero = b.Scalar(DefaultZeroPoint);
        }
        else
        {
            long zb = (kb + 1) / 2;
            var z = b.Reshape(b.Cast(Rematerializer.OrderedView(b, n.Input(3), trigger), ElementType.Float), n.GetInt("N", -1), zb);
            var zHigh = b.Op("Floor", b.Mul(z, b.Scalar(1f / 16)));
            var zLow = b.Sub(z, b.Mul(zHigh, b.Scalar(16f)));
            var unpacked = b.Reshape(b.Concat(-1, b.Unsqueeze(zLow, -1), b.Unsqueeze(zHigh, -1)), n.GetInt("N", -1), 2 * zb); // block 2i low, 2i+1 high
            zero = b.Unsqueeze(b.Slice(unpacked, [0], [kb], [1]), -1); // (N, kb, 1)
        }
        if (rows != n.GetInt("N", -1))
        {
            scales = b.Slice(scales, [n0], [n1], [0]);
            if (n.Input(3).Length > 0)
            {
                zero = b.Slice(zero, [n0], [n1], [0]);
            }
        }
        var w = b.Reshape(b.Mul(b.Sub(q, zero), scales), rows, kb * block); // (rows, kb·block)
        return kb * block == k ? w : b.Slice(w, [0], [k], [1]);
    }
}
