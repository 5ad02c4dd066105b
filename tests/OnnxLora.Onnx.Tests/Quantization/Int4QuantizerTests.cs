// The C# int4 quantizer and dequantizer against the independent Python implementation of the builder's RTN
// quantization (tests/data/int4, tools/torch-ref/int4_ref.py): bytes of codes, scales and zero points must be
// equal, not close, and dequantization must equal the reference check vectors exactly.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Quantization;

public sealed class Int4QuantizerTests
{
    private const int Block = Int4BlockLayout.DefaultBlockSize;

    /// <summary>Relative slack on the one-step bound |W − dequant(W)| ≤ |scale| (float rounding of v·(1/s)).</summary>
    private const float StepBoundSlack = 1e-6f;

    private static string FixtureModel => Path.Combine(Fixture.Base, "model.safetensors");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void QuantizerMatchesIndependentReferenceBitForBitOnEveryFixtureWeight(bool symmetric)
    {
        using var model = SafetensorsFile.Open(FixtureModel);
        using var reference = SafetensorsFile.Open(Int4Reference.Quantized(symmetric));
        int compared = 0;
        foreach (var (builder, hf) in Int4Reference.Weights())
        {
            var (w, k, n) = Int4Reference.BuilderWeight(model, hf);
            AssertEqualToReference(reference, builder, Int4Quantizer.Quantize(w, new Int4BlockLayout(k, n, Block, symmetric)));
            compared++;
        }
        Assert.Equal(15, compared);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Float16ModelQuantizesWithRoundedScalesBitForBitLikeTheReference(bool symmetric)
    {
        using var model = SafetensorsFile.Open(FixtureModel);
        using var reference = SafetensorsFile.Open(Int4Reference.Quantized(symmetric, fp16: true));
        foreach (var (builder, hf) in Int4Reference.Weights())
        {
            var (w, k, n) = Int4Reference.BuilderWeight(model, hf);
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(Half)w[i]; // the fp16 model's weight
            }
            var q = Int4Quantizer.Quantize(w, new Int4BlockLayout(k, n, Block, symmetric), ElementType.Float16);
            AssertEqualToReference(reference, builder, q);
            if (reference.Contains("dequant." + builder))
            {
                Assert.Equal(reference.ReadAsFloat32("dequant." + builder), q.Dequantize());
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PackedQkvIsQuantizedLikeTheBuilderPacksIt(bool symmetric)
    {
        using var model = SafetensorsFile.Open(FixtureModel);
        using var reference = SafetensorsFile.Open(Int4Reference.Quantized(symmetric));
        for (int i = 0; i < 2; i++)
        {
            var (w, k, n) = Int4Reference.BuilderWeight(model,
                $"model.layers.{i}.self_attn.q_proj.weight", $"model.layers.{i}.self_attn.k_proj.weight", $"model.layers.{i}.self_attn.v_proj.weight");
            AssertEqualToReference(reference, $"model.layers.{i}.attn.qkv_proj.MatMul.weight",
                Int4Quantizer.Quantize(w, new Int4BlockLayout(k, n, Block, symmetric)));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PartialLastBlockIsQuantizedOverTheRealRowsAndZeroPadded(bool symmetric)
    {
        using var reference = SafetensorsFile.Open(Int4Reference.Quantized(symmetric));
        var w = reference.ReadAsFloat32("weight." + Int4Reference.Synthetic); // (40,3): K=40 is one block and 8 rows
        var layout = new Int4BlockLayout(40, 3, Block, symmetric);
        Assert.True(layout.HasPartialBlock);
        var q = Int4Quantizer.Quantize(w, layout);
        AssertEqualToReference(reference, Int4Reference.Synthetic, q);
        for (int n = 0; n < 3; n++)
        {
            Assert.All(q.Codes.AsSpan((n * layout.CodeBytesPerColumn) + layout.BlobBytes + 4, 12).ToArray(), b => Assert.Equal(0, b));
        }
    }

    [Theory]
    [InlineData(true, "model.layers.0.attn.q_proj.MatMul.weight", 64, 64)]
    [InlineData(true, "model.layers.1.mlp.down_proj.MatMul.weight", 160, 64)]
    [InlineData(true, Int4Reference.Synthetic, 40, 3)]
    [InlineData(false, "model.layers.0.attn.q_proj.MatMul.weight", 64, 64)]
    [InlineData(false, "model.layers.1.mlp.down_proj.MatMul.weight", 160, 64)]
    [InlineData(false, Int4Reference.Synthetic, 40, 3)]
    public void DequantizerEqualsReferenceCheckVectorExactly(bool symmetric, string weight, int k, int n)
    {
        using var reference = SafetensorsFile.Open(Int4Reference.Quantized(symmetric));
        var layout = new Int4BlockLayout(k, n, Block, symmetric);
        var tensors = new Int4Tensors(layout, ElementType.Float, reference.GetBytes(MatMulNBits.CodesName(weight)).ToArray(),
            reference.GetBytes(MatMulNBits.ScalesName(weight)).ToArray(),
            symmetric ? null : reference.GetBytes(MatMulNBits.ZeroPointsName(weight)).ToArray());
        Assert.Equal(reference.ReadAsFloat32("dequant." + weight), tensors.Dequantize());
    }

    [Fact]
    public void DequantizingARectangleEqualsTheSameRectangleOfTheWholeMatrix()
    {
        var layout = new Int4BlockLayout(40, 7, Block, symmetric: false);
        var q = Int4Quantizer.Quantize(RandomMatrix(40, 7, seed: 3), layout);
        var whole = q.Dequantize();
        var part = new float[9 * 3];
        Int4Dequantizer.Dequantize(layout, q.Codes, q.ScalesAsFloat(), q.ZeroPoints, 29, 9, 2, 3, part);
        for (int r = 0; r < 9; r++)
        {
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(whole[((29 + r) * 7) + 2 + c], part[(r * 3) + c]);
            }
        }
    }

    [Theory]
    [InlineData(true, ElementType.Float)]
    [InlineData(false, ElementType.Float)]
    [InlineData(true, ElementType.Float16)]
    [InlineData(false, ElementType.Float16)]
    public void EveryDequantizedValueIsWithinOneStepOfTheOriginal(bool symmetric, ElementType scaleType)
    {
        int k = 96, n = 20;
        var w = RandomMatrix(k, n, seed: 11);
        if (scaleType == ElementType.Float16)
        {
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(Half)w[i];
            }
        }
        var layout = new Int4BlockLayout(k, n, Block, symmetric);
        var q = Int4Quantizer.Quantize(w, layout, scaleType);
        Assert.Equal(layout.ScaleCount * scaleType.SizeInBytes(), q.Scales.Length);
        var scales = q.ScalesAsFloat();
        var d = q.Dequantize();
        for (int i = 0; i < k; i++)
        {
            for (int c = 0; c < n; c++)
            {
                float step = MathF.Abs(scales[(c * layout.BlocksPerColumn) + (i / Block)]);
                Assert.True(MathF.Abs(d[(i * n) + c] - w[(i * n) + c]) <= step * (1 + StepBoundSlack),
                    $"W[{i},{c}] = {w[(i * n) + c]} dequantized to {d[(i * n) + c]}, step {step}");
            }
        }
    }

    [Fact]
    public void SymmetricBlockMapsItsLargestMagnitudeToCodeZero()
    {
        // Column 0: max |v| is the positive 3 → scale −3/8, 3 ↦ code 0, −2 ↦ roundf(−2·(−8/3) + 8) = 13.
        var w = new float[Block];
        w[0] = 3f;
        w[1] = -2f;
        var q = Int4Quantizer.Quantize(w, new Int4BlockLayout(Block, 1, Block, symmetric: true));
        Assert.Equal(-3f / 8, q.ScalesAsFloat()[0]);
        Assert.Equal(0xD0, q.Codes[0]); // low nibble = row 0 (code 0), high nibble = row 1 (code 13)
        Assert.Equal(0x88, q.Codes[1]); // zeros ↦ the zero point 8
    }

    [Fact]
    public void AllZeroBlockHasScaleZeroAndZeroPointCodes()
    {
        var q = Int4Quantizer.Quantize(new float[Block], new Int4BlockLayout(Block, 1, Block, symmetric: false));
        Assert.Equal(0f, q.ScalesAsFloat()[0]);
        Assert.Equal(0x80, q.ZeroPoints![0]); // zero point 0 in the low nibble, padding nibble 8
        Assert.All(q.Codes, b => Assert.Equal(0, b));
    }

    [Fact]
    public void StreamedWeightWritesTheSameBytesAsWholeMatrixQuantization()
    {
        int k = 64, n = 37;
        var w = RandomMatrix(k, n, seed: 5);
        var layout = new Int4BlockLayout(k, n, Block, symmetric: false);
        var whole = Int4Quantizer.Quantize(w, layout, ElementType.Float16);
        int calls = 0;
        var streamed = new Int4StreamedWeight("w", layout, ElementType.Float16, (n0, count, strip) =>
        {
            calls++;
            for (int i = 0; i < k; i++)
            {
                w.AsSpan((i * n) + n0, count).CopyTo(strip.Slice(i * count, count));
            }
        });
        var inits = streamed.Initializers();
        Assert.Equal(["w_Q4", "w_scales", "w_zero_points"], inits.Select(i => i.Name));
        Assert.Equal(whole.Codes, inits[0].Data.Span.ToArray());
        Assert.Equal(whole.Scales, inits[1].Data.Span.ToArray());
        Assert.Equal(whole.ZeroPoints, inits[2].Data.Span.ToArray());
        Assert.Equal(1, calls); // one strip covers 37 columns; scales and zero points come from the codes pass
    }

    [Fact]
    public void NonFiniteWeightIsRefusedNamingWeightRowAndColumn()
    {
        var w = RandomMatrix(32, 4, seed: 1);
        w[(5 * 4) + 2] = float.NaN;
        var streamed = new Int4StreamedWeight("model.layers.0.attn.q_proj.MatMul.weight", new Int4BlockLayout(32, 4, Block, true),
            ElementType.Float, (n0, count, strip) => w.AsSpan().CopyTo(strip));
        var e = Assert.Throws<InvalidDataException>(() => streamed.Initializers()[0].Data.Span.ToArray());
        Assert.Equal("weight 'model.layers.0.attn.q_proj.MatMul.weight': cannot quantize: non-finite value NaN at row 5, column 2", e.Message);
    }

    [Theory]
    [InlineData(24)]
    [InlineData(8)]
    [InlineData(0)]
    public void BlockSizeThatMatMulNBitsCannotRunIsRefused(int blockSize)
    {
        var e = Assert.Throws<BadInputException>(() => new Int4BlockLayout(64, 8, blockSize, true));
        Assert.Contains($"block size {blockSize} is not supported", e.Message);
    }

    [Fact]
    public void BFloat16ScalesAreRefused()
    {
        var e = Assert.Throws<BadInputException>(() =>
            Int4Quantizer.Quantize(new float[64], new Int4BlockLayout(32, 2, Block, true), ElementType.BFloat16));
        Assert.Contains("bfloat16", e.Message);
    }

    private static void AssertEqualToReference(SafetensorsFile reference, string weight, Int4Tensors q)
    {
        Assert.Equal(q.Layout.CodeDims, reference.GetInfo(MatMulNBits.CodesName(weight)).Shape);
        Assert.True(reference.GetBytes(MatMulNBits.CodesName(weight)).SequenceEqual(q.Codes), $"{weight}_Q4 differs");
        Assert.True(reference.GetBytes(MatMulNBits.ScalesName(weight)).SequenceEqual(q.Scales), $"{weight}_scales differs");
        if (q.Layout.Symmetric)
        {
            Assert.Null(q.ZeroPoints);
            Assert.False(reference.Contains(MatMulNBits.ZeroPointsName(weight)));
        }
        else
        {
            Assert.True(reference.GetBytes(MatMulNBits.ZeroPointsName(weight)).SequenceEqual(q.ZeroPoints), $"{weight}_zero_points differs");
        }
    }

    private static float[] RandomMatrix(int k, int n, int seed)
    {
        var rng = new Random(seed);
        var w = new float[k * n];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)((rng.NextDouble() * 2) - 1) * (i % 7 == 0 ? 3f : 0.5f);
        }
        return w;
    }
}
