// Folds a PEFT adapter into a GenAI model folder: W ← W ± scaling·(B·A)ᵀ for every target, written as
// a new complete folder by GenAiFolder (its copy rule; atomic). Each merged weight is streamed row by row
// while the writer copies the model (peak memory ≈ one row per weight); untouched weights are copied as
// they are. It does not change the graph; unmerge subtracts the same delta.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public static class LoraFold
{
    /// <summary>Writes <paramref name="outDir"/>; returns the targets folded.</summary>
    public static IReadOnlyList<LoraTarget> Merge(string onnxDir, PeftAdapter adapter, string outDir, bool unmerge = false,
        string adapterSource = "adapter")
    {
        var folder = GenAiFolder.Open(onnxDir);
        var model = folder.LoadDecoder();
        var g = model.Graph;
        var targets = AdapterTargets.Resolve(g, adapter, adapterSource);
        CheckBase(g, adapter, targets, adapterSource);
        foreach (var t in targets)
        {
            var w = g.Initializers[t.Weight];
            if (w.Type is not (ElementType.Float or ElementType.Float16 or ElementType.BFloat16))
            {
                throw new ModelFormatException($"{folder.DecoderPath}: weight '{t.Weight}' is {w.Type.OnnxName()}; merge needs float32, float16 or bfloat16 (quantized weights cannot be folded)");
            }
            var delta = new LoraDelta(adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data, t.Rank, (int)t.In, (int)t.Out,
                (float)(unmerge ? -t.Scaling : t.Scaling));
            g.Initializers[t.Weight] = Merged(w, delta);
        }
        folder.Write(model, outDir);
        return targets;
    }

    /// <summary>Refuses an adapter whose stored base fingerprint differs from this model's targeted weights.</summary>
    public static void CheckBase(Graph g, PeftAdapter adapter, IReadOnlyList<LoraTarget> targets, string source)
    {
        if (!adapter.Metadata.TryGetValue(BaseHash.HashKey, out var expected))
        {
            return;
        }
        var actual = BaseHash.Compute(g, targets.Select(t => t.Weight));
        if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelFormatException(
                $"{source}: adapter was trained on another base ({BaseHash.HashKey} {expected[..Math.Min(12, expected.Length)]}…, this model {actual[..12]}…)");
        }
    }

    /// <summary>W + Δ as a new initializer of W's name, dtype and shape, computed row by row while it is written.</summary>
    public static Initializer Merged(Initializer w, LoraDelta delta) =>
        new(w.Name, w.Type, w.Dims, TensorData.FromGenerator(w.Data.Length, s => WriteMerged(w, delta, s))) { Extra = w.Extra };

    // W (in,out) row i: read → fp32, add Δ row, check finite, round once to W's dtype, write.
    private static void WriteMerged(Initializer w, LoraDelta delta, Stream dst)
    {
        int outF = delta.Out, elem = w.Type.SizeInBytes();
        var row = new float[outF];
        var d = new float[outF];
        var bytes = new byte[outF * elem];
        for (int i = 0; i < delta.In; i++)
        {
            var src = w.Data.Span.Slice(i * outF * elem, outF * elem);
            ElementConversion.ToFloat32(w.Type, src, row);
            delta.ComputeRow(i, d);
            System.Numerics.Tensors.TensorPrimitives.Add(row, d, row);
            foreach (var v in row)
            {
                if (!float.IsFinite(v))
                {
                    throw new RewriteException($"non-finite value in merged weight '{w.Name}' (row {i})");
                }
            }
            ElementConversion.FromFloat32(w.Type, row, bytes);
            dst.Write(bytes);
        }
    }
}
