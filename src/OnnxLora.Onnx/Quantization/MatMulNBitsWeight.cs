// One MatMulNBits node of a model read back as an int4 weight: its layout, the codes/scales/zero-point initializers
// and accuracy_level, checked against what the builder writes. Anything else (other bit widths, prepacked GPU
// layouts, g_idx, bias, float zero points, wrong sizes) is refused in one line naming the node. Reading weight
// rectangles goes through Int4Dequantizer; it never dequantizes the whole matrix unless asked (DequantizeAll).
// K=in features, N=out features, kb=blocks per column
using System.Globalization;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Onnx.Quantization;

public sealed class MatMulNBitsWeight
{
    private float[]? _scales;

    private MatMulNBitsWeight(Node node, Int4BlockLayout layout, Initializer codes, Initializer scales, Initializer? zeroPoints, int accuracyLevel)
    {
        Node = node;
        Layout = layout;
        Codes = codes;
        Scales = scales;
        ZeroPoints = zeroPoints;
        AccuracyLevel = accuracyLevel;
    }

    public Node Node { get; }

    public Int4BlockLayout Layout { get; }

    /// <summary>(N, kb, BlockSize/2) uint8.</summary>
    public Initializer Codes { get; }

    /// <summary>(N·kb) or (N, kb), float32 or float16: the dtype of the node's A input and output.</summary>
    public Initializer Scales { get; }

    /// <summary>(N·ceil(kb/2)) uint8, or null (symmetric, zero point 8).</summary>
    public Initializer? ZeroPoints { get; }

    public ElementType ScaleType => Scales.Type;

    public int AccuracyLevel { get; }

    /// <summary>The name the builder quantized from (the codes' name without "_Q4"), e.g. model.layers.0.attn.q_proj.MatMul.weight.</summary>
    public string WeightName => Codes.Name.EndsWith("_Q4", StringComparison.Ordinal) ? Codes.Name[..^3] : Codes.Name;

    /// <summary>Reads and checks <paramref name="node"/>; <paramref name="source"/> (usually the model path) prefixes errors.</summary>
    public static MatMulNBitsWeight Read(Graph graph, Node node, string source)
    {
        string where = $"{source}: {node}";
        if (!MatMulNBits.Is(node))
        {
            throw new BadInputException($"{where} is not com.microsoft MatMulNBits");
        }
        long bits = node.GetInt("bits", Int4BlockLayout.Bits);
        if (bits != Int4BlockLayout.Bits)
        {
            throw new BadInputException(I($"{where}: bits={bits} is not supported (only 4-bit MatMulNBits)"));
        }
        long prepacked = node.GetInt("weight_prepacked", 0);
        if (prepacked != 0)
        {
            throw new BadInputException(I(
                $"{where}: weights are prepacked for a GPU kernel (weight_prepacked={prepacked}); only the builder's portable layout can be read (rebuild without matmulnbits_weights_prepacked)"));
        }
        long k = RequiredInt(node, "K", where), n = RequiredInt(node, "N", where), block = RequiredInt(node, "block_size", where);
        if (k <= 0 || n <= 0 || k > int.MaxValue || n > int.MaxValue)
        {
            throw new InvalidDataException(I($"{where}: K={k}, N={n} out of range"));
        }
        string? reason = block > int.MaxValue ? I($"block size {block} is not supported") : Int4BlockLayout.CheckBlockSize((int)block);
        if (reason is not null)
        {
            throw new InvalidDataException($"{where}: {reason}");
        }
        if (node.Input(MatMulNBits.GroupIndexInput).Length > 0)
        {
            throw new BadInputException($"{where}: g_idx (act-order reordering) is not supported");
        }
        if (node.Input(MatMulNBits.BiasInput).Length > 0)
        {
            throw new BadInputException($"{where}: a bias input is not supported");
        }
        string zpName = node.Input(MatMulNBits.ZeroPointsInput);
        var layout = new Int4BlockLayout((int)k, (int)n, (int)block, symmetric: zpName.Length == 0);

        var codes = Constant(graph, node.Input(MatMulNBits.CodesInput), "B (codes)", where);
        if (codes.Type != ElementType.UInt8 || !codes.Dims.SequenceEqual(layout.CodeDims))
        {
            bool unpadded = k % block != 0 && codes.Dims.Length == 3 && codes.Dims[1] < layout.BlocksPerColumn;
            throw new InvalidDataException(
                $"{where}: B '{codes.Name}' is {codes.Type.OnnxName()} [{string.Join(",", codes.Dims)}], expected uint8 [{string.Join(",", layout.CodeDims)}]"
                + (unpadded ? I($" (block_size {block} does not divide K={k}: the builder pads K to {layout.BlocksPerColumn} whole blocks)") : ""));
        }
        var scales = Constant(graph, node.Input(MatMulNBits.ScalesInput), "scales", where);
        if (scales.Type is not (ElementType.Float or ElementType.Float16) || scales.ElementCountValue != layout.ScaleCount)
        {
            throw new InvalidDataException(I(
                $"{where}: scales '{scales.Name}' is {scales.Type.OnnxName()} [{string.Join(",", scales.Dims)}], expected float32/float16 with N·kb = {layout.ScaleCount} values"));
        }
        Initializer? zeroPoints = null;
        if (!layout.Symmetric)
        {
            zeroPoints = Constant(graph, zpName, "zero_points", where);
            if (zeroPoints.Type != ElementType.UInt8)
            {
                throw new BadInputException($"{where}: zero_points '{zpName}' is {zeroPoints.Type.OnnxName()}; only the builder's packed uint8 zero points are supported");
            }
            if (zeroPoints.ElementCountValue != layout.ZeroPointBytes)
            {
                throw new InvalidDataException(I(
                    $"{where}: zero_points '{zpName}' has {zeroPoints.ElementCountValue} bytes, expected N·ceil(kb/2) = {layout.ZeroPointBytes}"));
            }
        }
        int accuracy = checked((int)node.GetInt("accuracy_level", 0));
        return new MatMulNBitsWeight(node, layout, codes, scales, zeroPoints, accuracy);
    }

    /// <summary>Scales widened to float32, (N·kb); read once and kept (1/8 of the fp32 weight's size at block 32).</summary>
    public ReadOnlySpan<float> ScalesAsFloat()
    {
        if (_scales is null)
        {
            var s = new float[Layout.ScaleCount];
            ElementConversion.ToFloat32(Scales.Type, Scales.Data.Span, s);
            _scales = s;
        }
        return _scales;
    }

    /// <summary>W[row0.., col0..] into <paramref name="dst"/>, (rows, cols) row-major.</summary>
    public void Dequantize(int row0, int rows, int col0, int cols, Span<float> dst) =>
        Int4Dequantizer.Dequantize(Layout, Codes.Data.Span, ScalesAsFloat(), ZeroPoints is null ? [] : ZeroPoints.Data.Span,
            row0, rows, col0, cols, dst);

    /// <summary>The whole W (K,N) row-major; for tests and small weights.</summary>
    public float[] DequantizeAll()
    {
        var w = new float[(long)Layout.K * Layout.N];
        Dequantize(0, Layout.K, 0, Layout.N, w);
        return w;
    }

    /// <summary>The tensors in memory (copies).</summary>
    public Int4Tensors ToTensors() =>
        new(Layout, ScaleType, Codes.Data.Span.ToArray(), Scales.Data.Span.ToArray(), ZeroPoints?.Data.Span.ToArray());

    private static Initializer Constant(Graph graph, string name, string what, string where)
    {
        if (name.Length == 0)
        {
            throw new InvalidDataException($"{where}: input {what} is empty");
        }
        return graph.Initializers.TryGetValue(name, out var init)
            ? init
            : throw new BadInputException($"{where}: {what} '{name}' is not an initializer (computed int4 weights are not supported)");
    }

    private static long RequiredInt(Node node, string attribute, string where) =>
        node.Attribute(attribute) is { } a ? a.I : throw new InvalidDataException($"{where}: required attribute '{attribute}' is missing");

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
