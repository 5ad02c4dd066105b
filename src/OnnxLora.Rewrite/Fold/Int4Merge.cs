// Folds an adapter (or none: plain quantization) into a GenAI model folder and writes its linear weights as int4
// MatMulNBits exactly as the GenAI builder's `-p int4` quantizes a float model: every linear LinearDiscovery finds as
// MatMul(x, W[in,out]) (projections, packed qkv and lm_head; the builder's op_types_to_quantize=MatMul) becomes
// "<node>_Q4" reading <w>_Q4/_scales[/_zero_points]; embeddings (Gather) stay float unless asked (then
// GatherBlockQuantized); linears stored otherwise (HF [out,in] behind a Transpose, Gemm) stay float, as the builder's
// quantizer leaves them, and an adapter targeting one is refused. The merged weight is rounded to the model's dtype
// first, so the result equals `merge` followed by the builder's quantizer. On an int4 base, targeted weights are
// dequantized, folded and requantized (the added error is measured); untouched int4 weights are copied byte for
// byte. Every check runs before anything is written; weights stream strip by strip; the folder is published atomically.
// K=in features, N=out features
using OnnxLora.Onnx;
using System.Globalization;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public static class Int4Merge
{
    /// <summary>Writes <paramref name="outDir"/>; <paramref name="adapter"/> null quantizes the model as it is.</summary>
    /// <param name="decoderFile">The decoder inside <paramref name="onnxDir"/>; null: as GenAiFolder.Open resolves it.</param>
    public static Int4MergeReport Run(string onnxDir, PeftAdapter? adapter, string outDir, Int4QuantizeOptions options,
        string adapterSource = "adapter", IProgress<string>? progress = null, string? decoderFile = null)
    {
        if (options.Check() is { } bad)
        {
            throw new BadInputException(bad);
        }
        var folder = GenAiFolder.Open(onnxDir, decoderFile);
        var modelPath = folder.DecoderPath;
        var model = folder.LoadDecoder();
        var g = model.Graph;
        var layers = LinearDiscovery.Find(g, modelPath);
        var linear = LinearWeight.From(g, layers, modelPath);
        IReadOnlyList<LoraTarget> targets = [];
        var deltas = new Dictionary<string, List<(LinearLayer Layer, LoraDelta Delta)>>(StringComparer.Ordinal);
        if (adapter is not null)
        {
            targets = AdapterTargets.Resolve(g, adapter, adapterSource);
            LoraFold.CheckBase(g, adapter, targets, adapterSource);
            foreach (var t in targets)
            {
                if (!LinearWeight.IsSupported(t.Layer))
                {
                    throw new ModelFormatException(
                        $"{modelPath}: {t.Module} reads weight '{t.Weight}' as {t.Layer.Layout}; int4 export folds and quantizes MatMul(x, W[in,out]) weights (the GenAI builder's layout) only: merge without --quantize");
                }
                if (!deltas.TryGetValue(t.Weight, out var parts))
                {
                    deltas[t.Weight] = parts = [];
                }
                parts.Add((t.Layer, new LoraDelta(adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data, t.Rank, (int)t.In, (int)t.Out, (float)t.Scaling)));
            }
        }

        // Plan and check everything before writing anything.
        var plan = new List<(LinearWeight Weight, Int4BlockLayout Layout, List<(LinearLayer Layer, LoraDelta Delta)>? Delta)>();
        var kept = new List<string>();
        var keptFloat = new List<string>();
        var readers = g.ConsumerIndex();
        var unmatched = new HashSet<string>(options.Exclude, StringComparer.Ordinal);
        foreach (var w in linear.Values)
        {
            deltas.TryGetValue(w.Name, out var delta);
            bool excluded = options.Exclude.Contains(w.Name) || options.Exclude.Contains(w.Node.Name);
            unmatched.Remove(w.Name);
            unmatched.Remove(w.Node.Name);
            if (excluded && w.IsInt4)
            {
                throw new ModelFormatException($"{modelPath}: weight '{w.Name}' is int4 in this model; --exclude keeps float weights float, it does not dequantize");
            }
            if (excluded)
            {
                keptFloat.Add(w.Name);
                if (delta is not null)
                {
                    LoraFold.Fold(g, adapter!, targets.Where(t => t.Weight == w.Name).ToList(), unmerge: false, modelPath);
                }
                continue;
            }
            if (w.IsInt4 && delta is null)
            {
                kept.Add(w.Name);
                continue;
            }
            var scaleType = ScaleType(w);
            if (scaleType is not (ElementType.Float or ElementType.Float16))
            {
                throw new ModelFormatException(
                    $"{modelPath}: weight '{w.Name}' is {scaleType.OnnxName()}; int4 MatMulNBits takes float32 or float16 models (import with --dtype float32 or float16)");
            }
            var layout = new Int4BlockLayout(w.In, w.Out, options.BlockSize, options.Symmetric);
            if (layout.HasPartialBlock && !options.PadPartialBlocks)
            {
                throw new ModelFormatException(string.Create(CultureInfo.InvariantCulture,
                    $"{modelPath}: block size {options.BlockSize} does not divide K={w.In} of weight '{w.Name}' (the builder would zero-pad its last block); use a block size that divides every K, or --pad-last-block to pad as the builder does"));
            }
            foreach (var stored in w.Storage)
            {
                if (readers.TryGetValue(stored.Name, out var r) && r.Count > 1)
                {
                    throw new ModelFormatException($"{modelPath}: weight '{stored.Name}' is read by {r.Count} nodes ({r[0]}, {r[1]}); a shared weight cannot be quantized for one reader");
                }
            }
            plan.Add((w, layout, delta));
        }

        if (unmatched.Count > 0)
        {
            throw new BadInputException($"--exclude {string.Join(", ", unmatched.Order(StringComparer.Ordinal))}: no MatMul weight or node of that name in {modelPath}");
        }
        var embeddings = options.QuantizeEmbedding ? PlanEmbeddings(g, options, readers, modelPath) : [];

        var streamed = new List<Int4StreamedWeight>();
        int done = 0;
        foreach (var (w, layout, delta) in plan)
        {
            var scaleType = ScaleType(w);
            string label = string.Create(CultureInfo.InvariantCulture, $"[{done + 1}/{plan.Count}] {w.Name}");
            done++;
            var q = new Int4StreamedWeight(w.Name, layout, scaleType, MergedColumns(w, delta, scaleType), measureError: w.IsInt4,
                started: () => progress?.Report($"{label} → int4{(delta is null ? "" : " (folded)")}{(w.IsInt4 ? " (requantized)" : "")}"));
            streamed.Add(q);

            int at = g.Nodes.IndexOf(w.Node);
            string matMulName = w.IsInt4 && w.Node.Name.EndsWith("_Q4", StringComparison.Ordinal) ? w.Node.Name[..^3] : w.Node.Name;
            g.Nodes[at] = MatMulNBits.CreateNode(matMulName, w.Node.Input(0), w.Name, w.Node.Outputs[0], layout, options.AccuracyLevel);

            var old = w.Storage.Select(s => s.Name).ToList();
            int position = g.Initializers.IndexOf(old[0]);
            foreach (var name in old)
            {
                g.Initializers.Remove(name);
            }
            foreach (var init in q.Initializers())
            {
                g.Initializers.Insert(position++, init.Name, init);
            }
        }
        foreach (var (gather, e, layout) in embeddings)
        {
            var q = new Int4StreamedWeight(e.Name, layout, e.Type, EmbeddingRows(e),
                started: () => progress?.Report($"{e.Name} → int4 GatherBlockQuantized"));
            g.Nodes[g.Nodes.IndexOf(gather)] = GatherBlockQuantized.CreateNode(gather.Name, e.Name, gather.Input(1), gather.Outputs[0], layout);
            int position = g.Initializers.IndexOf(e.Name);
            g.Initializers.Remove(e.Name);
            foreach (var init in q.Initializers(gatherLayout: true))
            {
                g.Initializers.Insert(position++, init.Name, init);
            }
        }
        model.EnsureOpset(Model.MicrosoftDomain, 1);
        folder.Write(model, outDir);

        var requantized = streamed.Where(s => linear[s.Weight].IsInt4).ToList();
        return new Int4MergeReport(targets,
            streamed.Where(s => !linear[s.Weight].IsInt4).Select(s => s.Weight).ToList(),
            requantized.Select(s => s.Weight).ToList(), kept, keptFloat,
            requantized.Count == 0 ? 0 : requantized.Max(s => s.MaxAbsError),
            requantized.Count == 0 ? 0 : requantized.Max(s => s.MaxStep));
    }

    // Every Gather (axis 0) of a 2-D float32/float16 initializer read by nothing else: the embeddings to store int4.
    private static List<(Node Gather, Initializer Weight, Int4BlockLayout Layout)> PlanEmbeddings(Graph g, Int4QuantizeOptions options,
        Dictionary<string, List<Node>> readers, string modelPath)
    {
        var list = new List<(Node, Initializer, Int4BlockLayout)>();
        foreach (var node in g.Nodes.Where(n => n.OpType == "Gather" && n.Domain.Length == 0 && n.GetInt("axis", 0) == 0))
        {
            if (!g.Initializers.TryGetValue(node.Input(0), out var e) || e.Dims.Length != 2 || !e.Type.IsFloating())
            {
                continue;
            }
            if (e.Type is not (ElementType.Float or ElementType.Float16))
            {
                throw new ModelFormatException($"{modelPath}: embedding '{e.Name}' is {e.Type.OnnxName()}; int4 GatherBlockQuantized takes float32 or float16");
            }
            if (readers[e.Name].Count > 1)
            {
                throw new ModelFormatException($"{modelPath}: embedding '{e.Name}' is read by {readers[e.Name].Count} nodes; a shared weight cannot be quantized for one reader");
            }
            var layout = new Int4BlockLayout(checked((int)e.Dims[1]), checked((int)e.Dims[0]), options.BlockSize, options.Symmetric);
            if (GatherBlockQuantized.Check(layout) is { } reason)
            {
                throw new ModelFormatException($"{modelPath}: embedding '{e.Name}' cannot be stored int4: {reason}");
            }
            list.Add((node, e, layout));
        }
        return list;
    }

    // Embedding rows as quantizer columns: strip (hidden, count) = E[firstRow .. firstRow+count, :]ᵀ.
    private static ColumnStripSource EmbeddingRows(Initializer e)
    {
        int hidden = checked((int)e.Dims[1]), elem = e.Type.SizeInBytes();
        float[]? row = null;
        return (row0, count, strip) =>
        {
            row ??= new float[hidden];
            var all = e.Data.Span;
            for (int c = 0; c < count; c++)
            {
                ElementConversion.ToFloat32(e.Type, all.Slice(checked((row0 + c) * hidden * elem), hidden * elem), row);
                for (int k = 0; k < hidden; k++)
                {
                    strip[(k * count) + c] = row[k];
                }
            }
        };
    }

    // The dtype of W's values and of its int4 scales: the float weight's, or the int4 base's scales'.
    private static ElementType ScaleType(LinearWeight w) => w.Int4?.ScaleType ?? w.Float!.Type;

    // W[:, col0..] (+ Δ when folding), finite-checked and rounded to the model dtype as `merge` would have stored it.
    // Each part adds Δ on its own column slice [Offset, Offset+Out) of W (a packed qkv has three).
    private static ColumnStripSource MergedColumns(LinearWeight w, List<(LinearLayer Layer, LoraDelta Delta)>? delta, ElementType dtype)
    {
        float[]? d = null;
        return (col0, count, strip) =>
        {
            w.ReadColumns(col0, count, strip);
            if (delta is null)
            {
                return;
            }
            d ??= new float[w.Out];
            for (int i = 0; i < w.In; i++)
            {
                var row = strip.Slice(i * count, count);
                foreach (var (layer, part) in delta)
                {
                    int lo = Math.Max(col0, (int)layer.Offset), hi = Math.Min(col0 + count, (int)(layer.Offset + layer.Out));
                    if (lo >= hi)
                    {
                        continue;
                    }
                    var dr = d.AsSpan(0, hi - lo);
                    part.ComputeRowSlice(i, lo - (int)layer.Offset, dr);
                    var target = row.Slice(lo - col0, hi - lo);
                    System.Numerics.Tensors.TensorPrimitives.Add(target, dr, target);
                }
                foreach (var v in row)
                {
                    if (!float.IsFinite(v))
                    {
                        throw new RewriteException(string.Create(CultureInfo.InvariantCulture, $"non-finite value in merged weight '{w.Name}' (row {i})"));
                    }
                }
                if (dtype != ElementType.Float)
                {
                    for (int c = 0; c < row.Length; c++)
                    {
                        row[c] = Int4Quantizer.RoundToStorage(row[c], dtype);
                    }
                }
            }
        };
    }
}
