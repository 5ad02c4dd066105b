// A linear layer's frozen weight W (in,out) and how the model stores it: a float initializer read by a MatMul, or an
// int4 MatMulNBits weight (the GenAI builder's `-p int4`). Both are named by the float name the builder starts from
// (e.g. model.layers.0.attn.q_proj.MatMul.weight; an int4 weight's codes are that name + "_Q4"). Fold, base hashing
// and int4 export read W through this one view: column strips or rows in float32, dequantized when stored int4.
// It does not decide which weights an adapter targets (AdapterTargets) and never materialises a whole weight.
// K=in features, N=out features, S=columns in a strip
using System.Globalization;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Rewrite.Fold;

public sealed class LinearWeight
{
    private LinearWeight(string name, Node node, Initializer? floatWeight, MatMulNBitsWeight? int4)
    {
        Name = name;
        Node = node;
        Float = floatWeight;
        Int4 = int4;
    }

    /// <summary>The float weight's name (for int4 storage: the codes' name without "_Q4").</summary>
    public string Name { get; }

    /// <summary>The MatMul or MatMulNBits node that reads W.</summary>
    public Node Node { get; }

    /// <summary>Float storage, [in,out] float32/float16/bfloat16; null when int4.</summary>
    public Initializer? Float { get; }

    /// <summary>Int4 storage; null when float.</summary>
    public MatMulNBitsWeight? Int4 { get; }

    public bool IsInt4 => Int4 is not null;

    public int In => Int4?.Layout.K ?? checked((int)Float!.Dims[0]);

    public int Out => Int4?.Layout.N ?? checked((int)Float!.Dims[1]);

    /// <summary>The initializers holding W, in the order they are hashed: the float weight, or codes, scales, zero points.</summary>
    public IEnumerable<Initializer> Storage =>
        Float is not null ? [Float] : new[] { Int4!.Codes, Int4.Scales, Int4.ZeroPoints }.OfType<Initializer>();

    /// <summary>
    /// Every 2-D constant weight of a MatMul (float32/float16/bfloat16) and every MatMulNBits weight, by name, in node
    /// order. A MatMulNBits node the builder would not write (bits ≠ 4, prepacked, g_idx, …) is refused in one line.
    /// </summary>
    public static IReadOnlyDictionary<string, LinearWeight> Find(Graph graph, string source)
    {
        var found = new Dictionary<string, LinearWeight>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            LinearWeight? w = null;
            if (node.OpType == "MatMul" && node.Domain.Length == 0
                && graph.Initializers.TryGetValue(node.Input(1), out var init) && init.Dims.Length == 2
                && init.Type is ElementType.Float or ElementType.Float16 or ElementType.BFloat16)
            {
                w = new LinearWeight(init.Name, node, init, null);
            }
            else if (MatMulNBits.Is(node))
            {
                var q = MatMulNBitsWeight.Read(graph, node, source);
                w = new LinearWeight(q.WeightName, node, null, q);
            }
            if (w is not null && !found.TryAdd(w.Name, w) && !ReferenceEquals(found[w.Name].Storage.First(), w.Storage.First()))
            {
                throw new ModelFormatException($"{source}: weight name '{w.Name}' is used by two different weights");
            }
        }
        return found;
    }

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
