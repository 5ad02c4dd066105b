// Folds a PEFT adapter into a model folder (GenAI, builder or torch.onnx export): W ← W ± scaling·(B·A)ᵀ
// for every target, written as a new complete folder by GenAiFolder (its copy rule; atomic). The graph is
// the user's own: only weight values change, in the weight's own layout ([in,out], HF [out,in] behind a
// Transpose or Gemm, a packed Q/K/V slice). Each merged weight is streamed row by row while the writer
// copies the model (peak memory ≈ one row per weight). A weight that other nodes also read (torch.onnx
// deduplicates equal initializers; tied embeddings) is folded into a copy that only the target reads.
// Unmerge subtracts the same delta. Int4 (MatMulNBits) weights are refused here: Int4Merge dequantizes, folds
// and requantizes them.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public static class LoraFold
{
    /// <summary>Writes <paramref name="outDir"/>; returns the targets folded.</summary>
    /// <param name="decoderFile">The decoder inside <paramref name="onnxDir"/>; null: as GenAiFolder.Open resolves it.</param>
    public static IReadOnlyList<LoraTarget> Merge(string onnxDir, PeftAdapter adapter, string outDir, bool unmerge = false,
        string adapterSource = "adapter", string? decoderFile = null)
    {
        var folder = GenAiFolder.Open(onnxDir, decoderFile);
        var model = folder.LoadDecoder();
        var g = model.Graph;
        var targets = AdapterTargets.Resolve(g, adapter, adapterSource);
        CheckBase(g, adapter, targets, adapterSource);
        Fold(g, adapter, targets, unmerge, folder.DecoderPath);
        folder.Write(model, outDir);
        return targets;
    }

    /// <summary>Replaces each targeted weight of <paramref name="g"/> by its merged value (generated lazily when written).</summary>
    public static void Fold(Graph g, PeftAdapter adapter, IReadOnlyList<LoraTarget> targets, bool unmerge, string where)
    {
        var consumers = g.ConsumerIndex();
        foreach (var byWeight in targets.GroupBy(t => t.Weight))
        {
            if (byWeight.First().Layer.IsInt4)
            {
                throw new ModelFormatException(
                    $"{where}: weight '{byWeight.Key}' ({byWeight.First().Module}) is int4 (MatMulNBits); fold onto an int4 base with merge --quantize int4 (dequantize, fold, requantize)");
            }
            var w = g.Initializers[byWeight.Key];
            if (w.Type is not (ElementType.Float or ElementType.Float16 or ElementType.BFloat16))
            {
                throw new ModelFormatException($"{where}: weight '{w.Name}' is {w.Type.OnnxName()}; merge needs float32, float16 or bfloat16 (quantized weights cannot be folded)");
            }
            var parts = byWeight.Select(t => (t.Layer, LoraDelta.ForStorage(adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data, t.Rank,
                (int)t.In, (int)t.Out, (float)(unmerge ? -t.Scaling : t.Scaling), t.Layer.StoredOutIn))).ToList();
            var readers = parts.Select(p => p.Layer.Reader).ToHashSet(StringComparer.Ordinal);
            foreach (var p in parts.Where(p => p.Layer.View is not null))
            {
                var view = consumers.GetValueOrDefault(g.Nodes.First(n => n.Name == p.Layer.View).Outputs[0]) ?? [];
                if (view.Any(n => n.Name != p.Layer.Node))
                {
                    throw new RewriteException($"{where}: Transpose '{p.Layer.View}' of weight '{w.Name}' also feeds other nodes than {p.Layer.Module}; cannot fold into it alone");
                }
            }
            bool shared = (consumers.GetValueOrDefault(w.Name) ?? []).Any(n => !readers.Contains(n.Name)) || g.Outputs.Any(o => o.Name == w.Name);
            var name = shared ? g.UniqueName(w.Name + ".merged") : w.Name;
            var merged = new Initializer(name, w.Type, w.Dims, TensorData.FromGenerator(w.Data.Length, s => WriteMerged(w, parts, s))) { Extra = w.Extra };
            if (!shared)
            {
                g.Initializers[w.Name] = merged;
                continue;
            }
            g.AddInitializer(merged);
            foreach (var n in g.Nodes.Where(n => readers.Contains(n.Name)))
            {
                for (int i = 0; i < n.Inputs.Count; i++)
                {
                    if (n.Inputs[i] == w.Name)
                    {
                        n.Inputs[i] = name;
                    }
                }
            }
        }
    }

    /// <summary>Refuses an adapter whose stored base fingerprint differs from this model's targeted weights.</summary>
    public static void CheckBase(Graph g, PeftAdapter adapter, IReadOnlyList<LoraTarget> targets, string source)
    {
        if (!adapter.Metadata.TryGetValue(BaseHash.HashKey, out var expected))
        {
            return;
        }
        var actual = BaseHash.Compute(g, targets.Select(t => t.Layer));
        if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelFormatException(
                $"{source}: adapter was trained on another base ({BaseHash.HashKey} {expected[..Math.Min(12, expected.Length)]}…, this model {actual[..12]}…)");
        }
    }

    // Stored row j (W is (rows, cols) as stored): read → fp32, add each delta whose slice covers it, check finite,
    // round once to W's dtype, write. [in,out] storage: a delta covers columns [offset, offset+out) of every row;
    // [out,in] storage: rows [offset, offset+out), each a full row of Δᵀ.
    private static void WriteMerged(Initializer w, List<(LinearLayer Layer, LoraDelta Delta)> parts, Stream dst)
    {
        int rows = checked((int)w.Dims[0]), cols = checked((int)w.Dims[1]), elem = w.Type.SizeInBytes();
        var row = new float[cols];
        var d = new float[cols];
        var bytes = new byte[cols * elem];
        for (int j = 0; j < rows; j++)
        {
            var src = w.Data.Span.Slice(j * cols * elem, cols * elem);
            ElementConversion.ToFloat32(w.Type, src, row);
            foreach (var (layer, delta) in parts)
            {
                if (!layer.StoredOutIn)
                {
                    var slice = row.AsSpan((int)layer.Offset, (int)layer.Out);
                    delta.ComputeRow(j, d);
                    System.Numerics.Tensors.TensorPrimitives.Add(slice, d.AsSpan(0, slice.Length), slice);
                }
                else if (j >= layer.Offset && j < layer.Offset + layer.Out)
                {
                    delta.ComputeRow(j - (int)layer.Offset, d);
                    System.Numerics.Tensors.TensorPrimitives.Add(row, d, row);
                }
            }
            foreach (var v in row)
            {
                if (!float.IsFinite(v))
                {
                    throw new RewriteException($"non-finite value in merged weight '{w.Name}' (row {j})");
                }
            }
            ElementConversion.FromFloat32(w.Type, row, bytes);
            dst.Write(bytes);
        }
    }
}
