// The whole frozen weight W (in,out) of one linear node, as LinearDiscovery found it, with its bytes: a float
// [in,out] initializer read by a MatMul, or an int4 MatMulNBits weight (the GenAI builder's `-p int4`). Both are
// named by the float name the builder starts from (e.g. model.layers.0.attn.q_proj.MatMul.weight; an int4 weight's
// codes are that name + "_Q4"). A packed qkv_proj is one LinearWeight carrying its three layers (column slices).
// Int4 export, fold onto an int4 base and the int4 tests read W through this view: column strips in float32,
// dequantized when stored int4. It does not find linears itself (LinearDiscovery does) and never materialises a
// whole weight. K=in features, N=out features, S=columns in a strip
using System.Globalization;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public sealed class LinearWeight
{
    private LinearWeight(string name, Node node, IReadOnlyList<LinearLayer> layers, Initializer? floatWeight, MatMulNBitsWeight? int4)
    {
        Name = name;
        Node = node;
        Layers = layers;
        Float = floatWeight;
        Int4 = int4;
    }

    /// <summary>The float weight's name (for int4 storage: the codes' name without "_Q4").</summary>
    public string Name { get; }

    /// <summary>The MatMul or MatMulNBits node that reads W.</summary>
    public Node Node { get; }

    /// <summary>The modules this weight computes: one, or q/k/v column slices of a packed weight.</summary>
    public IReadOnlyList<LinearLayer> Layers { get; }

    /// <summary>Float storage, [in,out] float32/float16/bfloat16; null when int4.</summary>
    public Initializer? Float { get; }

    /// <summary>Int4 storage; null when float.</summary>
    public MatMulNBitsWeight? Int4 { get; }

    public bool IsInt4 => Int4 is not null;

    public int In => Int4?.Layout.K ?? checked((int)Float!.Dims[0]);

    public int Out => Int4?.Layout.N ?? checked((int)Float!.Dims[1]);

    /// <summary>The initializers holding W: the float weight, or codes, scales, zero points.</summary>
    public IEnumerable<Initializer> Storage =>
        Float is not null ? [Float] : new[] { Int4!.Codes, Int4.Scales, Int4.ZeroPoints }.OfType<Initializer>();

    /// <summary>
    /// The weights of LinearDiscovery's layers that a MatMul reads as [in,out] or a MatMulNBits reads as int4, by weight
    /// name in node order (a packed weight once). Layers stored otherwise (HF [out,in] behind a Transpose, Gemm) are
    /// not in it: <see cref="IsSupported"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, LinearWeight> Find(Graph graph, string source) =>
        From(graph, LinearDiscovery.Find(graph, source), source);

    /// <summary>As <see cref="Find(Graph, string)"/> over layers already found.</summary>
    public static IReadOnlyDictionary<string, LinearWeight> From(Graph graph, IReadOnlyList<LinearLayer> layers, string source)
    {
        var found = new Dictionary<string, LinearWeight>(StringComparer.Ordinal);
        foreach (var byNode in layers.Where(IsSupported).GroupBy(l => l.Node))
        {
            var first = byNode.First();
            var node = LinearDiscovery.NodeOf(graph, first);
            var w = first.IsInt4
                ? new LinearWeight(first.Weight, node, byNode.ToList(), null, MatMulNBitsWeight.Read(graph, node, source))
                : new LinearWeight(first.Weight, node, byNode.ToList(), graph.Initializers[first.Weight], null);
            if (!found.TryAdd(w.Name, w))
            {
                throw new ModelFormatException($"{source}: weight '{w.Name}' is read by two linear nodes ('{found[w.Name].Node.Name}', '{node.Name}')");
            }
        }
        return found;
    }

    /// <summary>A layer whose weight this view can read: MatMul over an [in,out] initializer, or MatMulNBits.</summary>
    public static bool IsSupported(LinearLayer layer) =>
        layer.Layout is WeightLayout.Int4 || (layer.Layout is WeightLayout.InOut && layer.View is null);

    /// <summary>Fills <paramref name="strip"/>, (K, count) row-major, with W[:, col0 .. col0+count) in float32.</summary>
    public void ReadColumns(int col0, int count, Span<float> strip)
    {
        if (Int4 is not null)
        {
            Int4.Dequantize(0, Int4.Layout.K, col0, count, strip);
            return;
        }
        var w = Float!;
        int inF = In, outF = Out, elem = w.Type.SizeInBytes();
        var all = w.Data.Span;
        for (int i = 0; i < inF; i++)
        {
            var src = all.Slice(checked((int)((((long)i * outF) + col0) * elem)), count * elem);
            ElementConversion.ToFloat32(w.Type, src, strip.Slice(i * count, count));
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"'{Name}' [{In},{Out}] {(IsInt4 ? $"int4 block {Int4!.Layout.BlockSize}" : Float!.Type.OnnxName())}");
}
