// Adapter-ready models only: fuses the LoRA branches of projections that read the same input x
// (LoraGroup: q/k/v, gate/up), base weights included. Pattern, per member i (transposed layout, scaling 1):
//   yᵢ = Add(MatMul(x, Wᵢ), MatMul(MatMul(x, Aᵢ), Bᵢ))
// becomes one branch for the group:
//   [y₁|…|y_k] = Split(Add(MatMul(x, [W₁|…|W_k]), MatMul(MatMul(x, A_g), B_g)), axis=-1)
// so a decode step runs 5 nodes for q/k/v instead of 12 (4 when GroupQueryAttention takes the packed
// QKV directly). W (in,out), A_g (in,Σr), B_g (Σr,Σout).
// Int4 (MatMulNBits) members fuse the same way: codes, scales and zero points are stored per output column,
// so [W₁|…|W_k] is their concatenation along N, exact, and stays int4 (one MatMulNBits, the first member's
// attributes). A packed weight's slices (the builder's qkv_proj) already share one branch (LoraInjection) and are left
// as they are. It does not touch the training graph, and it needs weights of one float type and equal input size.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Rewrite.Lora;

public static class SharedInputLoraFusion
{
    public static (PassResult Result, IReadOnlyList<LoraGroup> Groups) Run(Model model, IReadOnlyList<LoraTarget> targets)
    {
        var g = model.Graph;
        var groups = LoraGroup.Of(targets.Select(t => t.Module));
        var byModule = targets.ToDictionary(t => t.Module, StringComparer.Ordinal);
        bool modified = false;
        foreach (var group in groups.Where(x => x.IsFused))
        {
            if (group.Modules.Select(m => byModule[m].Linear?.Node).Distinct().Count() == 1 && byModule[group.Modules[0]].Linear?.IsSlice == true)
            {
                continue; // slices of one packed weight: injected as one branch already
            }
            if (group.Modules.All(m => byModule[m].Linear is { Layout: WeightLayout.Int4 }))
            {
                FuseInt4(g, group, group.Modules.Select(m => byModule[m]).ToList());
                modified = true;
                continue;
            }
            if (group.Modules.Any(m => byModule[m].Linear is { Layout: not WeightLayout.InOut }))
            {
                continue; // weights behind a Transpose or in a Gemm keep one branch each
            }
            Fuse(g, group, group.Modules.Select(m => byModule[m]).ToList());
            modified = true;
        }
        if (modified)
        {
            g.TopologicalSort();
        }
        return (new PassResult(model, modified), groups);
    }

    private static void Fuse(Graph g, LoraGroup group, List<LoraTarget> members)
    {
        var consumers = g.ConsumerIndex();
        var producers = g.ProducerIndex();
        var matched = members.Select(t => Match(g, t, consumers, producers)).ToList();
        var x = matched[0].Base.Input(0);
        var ws = matched.Select(m => g.Initializers[m.Base.Input(1)]).ToList();
        foreach (var (m, w) in matched.Zip(ws))
        {
            if (m.Base.Input(0) != x)
            {
                throw new RewriteException($"{group.Name}: '{m.Target.Module}' reads '{m.Base.Input(0)}', not '{x}'; its LoRA branch cannot be shared");
            }
            if (w.Type != ws[0].Type || !w.Type.IsFloating() || w.Dims[0] != ws[0].Dims[0] || m.Target.Layer.Layout != WeightLayout.InOut)
            {
                throw new RewriteException(
                    $"{group.Name}: weight '{w.Name}' is {w.Type.OnnxName()} [{string.Join(",", w.Dims)}] ({m.Target.Layer.Layout}); fusion needs [in,out] {ws[0].Type.OnnxName()} weights with in={ws[0].Dims[0]}");
            }
        }
        long inF = ws[0].Dims[0], sumOut = ws.Sum(w => w.Dims[1]), sumR = members.Sum(t => (long)t.Rank);
        var type = ws[0].Type;
        var loraType = Graph.TypeOf(g.FindInput(members[0].A)!).Element;

        var stillRead = RemoveMatched(g, matched);
        foreach (var w in ws.Where(w => !stillRead.Contains(w.Name)))
        {
            g.Initializers.Remove(w.Name); // a weight other nodes also read (torch.onnx deduplicates) stays
        }
        var wName = g.UniqueName(group.Name + ".MatMul.weight");
        g.AddInitializer(new Initializer(wName, type, [inF, sumOut],
            TensorData.FromGenerator(inF * sumOut * type.SizeInBytes(), s => WriteConcatenated(ws, s))));
        g.Inputs.Add(Graph.MakeValueInfo(group.A, loraType, inF, sumR));
        g.Inputs.Add(Graph.MakeValueInfo(group.B, loraType, sumR, sumOut));

        var b = new GraphBuilder(g, "/lora/" + group.Name + "/");
        var baseOut = b.MatMul(x, wName);                    // (B,T,Σout)
        var up = b.MatMul(b.MatMul(x, group.A), group.B);    // (B,T,Σr) → (B,T,Σout)
        var sum = b.Add(baseOut, up);
        var outputs = matched.Select(m => m.Add.Outputs[0]).ToList();
        if (!FeedPackedAttention(g, outputs, sum))
        {
            b.NodeWithOutputs("Split", [sum, b.Ints([.. ws.Select(w => w.Dims[1])])], outputs, attributes: ("axis", -1L));
        }
    }

    // The int4 form of Fuse: one MatMulNBits over the members' codes/scales/zero points concatenated along N.
    private static void FuseInt4(Graph g, LoraGroup group, List<LoraTarget> members)
    {
        var consumers = g.ConsumerIndex();
        var producers = g.ProducerIndex();
        var matched = members.Select(t => Match(g, t, consumers, producers)).ToList();
        var qs = matched.Select(m => MatMulNBitsWeight.Read(g, m.Base, group.Name)).ToList();
        var x = matched[0].Base.Input(0);
        foreach (var (m, q) in matched.Zip(qs))
        {
            if (m.Base.Input(0) != x)
            {
                throw new RewriteException($"{group.Name}: '{m.Target.Module}' reads '{m.Base.Input(0)}', not '{x}'; its LoRA branch cannot be shared");
            }
            if (q.Layout.K != qs[0].Layout.K || q.Layout.BlockSize != qs[0].Layout.BlockSize || q.ScaleType != qs[0].ScaleType
                || (q.ZeroPoints is null) != (qs[0].ZeroPoints is null))
            {
                throw new RewriteException(
                    $"{group.Name}: {q.Node} (K={q.Layout.K}, block {q.Layout.BlockSize}, {q.ScaleType.OnnxName()} scales, {(q.ZeroPoints is null ? "symmetric" : "asymmetric")}) cannot be concatenated with {qs[0].Node}");
            }
        }
        long inF = qs[0].Layout.K, sumOut = qs.Sum(q => (long)q.Layout.N), sumR = members.Sum(t => (long)t.Rank);
        var loraType = Graph.TypeOf(g.FindInput(members[0].A)!).Element;
        var stillRead = RemoveMatched(g, matched);
        string Concat(string suffix, Func<MatMulNBitsWeight, Initializer> pick, long[] dims)
        {
            var parts = qs.Select(pick).ToList();
            var name = g.UniqueName(group.Name + ".MatMul.weight" + suffix);
            g.AddInitializer(new Initializer(name, parts[0].Type, dims,
                TensorData.FromGenerator(parts.Sum(p => p.Data.Length), s => parts.ForEach(p => s.Write(p.Data.Span)))));
            foreach (var p in parts.Where(p => !stillRead.Contains(p.Name)))
            {
                g.Initializers.Remove(p.Name);
            }
            return name;
        }
        var first = qs[0];
        var inputs = new List<string>
        {
            x,
            Concat("_Q4", q => q.Codes, [sumOut, first.Codes.Dims[1], first.Codes.Dims[2]]),
            Concat("_scales", q => q.Scales, [sumOut * first.Layout.BlocksPerColumn]),
        };
        if (first.ZeroPoints is not null)
        {
            inputs.Add(Concat("_zero_points", q => q.ZeroPoints!, [sumOut * ((first.Layout.BlocksPerColumn + 1) / 2)]));
        }
        g.Inputs.Add(Graph.MakeValueInfo(group.A, loraType, inF, sumR));
        g.Inputs.Add(Graph.MakeValueInfo(group.B, loraType, sumR, sumOut));
        var b = new GraphBuilder(g, "/lora/" + group.Name + "/");
        var baseOut = g.UniqueName(group.Name + "/MatMul_Q4/output_0");
        var node = new Node(MatMulNBits.OpType, g.UniqueName("/lora/" + group.Name + "/MatMul_Q4"), inputs, [baseOut], Model.MicrosoftDomain);
        node.Proto.Attribute.AddRange(first.Node.Proto.Attribute.Select(a => a.Clone()));
        node.SetAttribute("N", sumOut);
        g.AddNode(node);
        var sum = b.Add(baseOut, b.MatMul(b.MatMul(x, group.A), group.B)); // (B,T,Σout)
        var outputs = matched.Select(m => m.Add.Outputs[0]).ToList();
        if (!FeedPackedAttention(g, outputs, sum))
        {
            b.NodeWithOutputs("Split", [sum, b.Ints([.. qs.Select(q => (long)q.Layout.N)])], outputs, attributes: ("axis", -1L));
        }
    }

    // q,k,v read only by one GroupQueryAttention as its query/key/value: give it the packed (B,S,(H+2K)·d)
    // query instead (its packed-QKV form, key and value left empty), so no Split runs.
    private static bool FeedPackedAttention(Graph g, List<string> qkv, string packed)
    {
        if (qkv.Count != 3)
        {
            return false;
        }
        var readers = g.Nodes.Where(n => n.Inputs.Any(qkv.Contains)).ToList();
        if (readers.Count != 1 || readers[0] is not { OpType: "GroupQueryAttention" } gqa || gqa.Domain != Model.MicrosoftDomain
            || gqa.Input(0) != qkv[0] || gqa.Input(1) != qkv[1] || gqa.Input(2) != qkv[2] || g.Outputs.Any(o => qkv.Contains(o.Name)))
        {
            return false;
        }
        gqa.Inputs[0] = packed;
        gqa.Inputs[1] = "";
        gqa.Inputs[2] = "";
        return true;
    }

    private sealed record Matched(LoraTarget Target, Node Base, Node Down, Node Up, Node Add);

    // Removes each member's base MatMul, LoRA branch and Add and its A/B inputs; returns the values still read.
    private static HashSet<string> RemoveMatched(Graph g, List<Matched> matched)
    {
        foreach (var m in matched)
        {
            g.Nodes.Remove(m.Base);
            g.Nodes.Remove(m.Down);
            g.Nodes.Remove(m.Up);
            g.Nodes.Remove(m.Add);
            g.Inputs.RemoveAll(i => i.Name == m.Target.A || i.Name == m.Target.B);
        }
        return g.Nodes.SelectMany(n => n.Inputs).ToHashSet(StringComparer.Ordinal);
    }

    // MatMul(x, A) → MatMul(·, B) → Add(MatMul(x, W), ·): the injection's shape with the transposed layout.
    private static Matched Match(Graph g, LoraTarget t, Dictionary<string, List<Node>> consumers, Dictionary<string, Node> producers)
    {
        Node Single(string value, string op)
        {
            var list = consumers.GetValueOrDefault(value) ?? [];
            return list.Count == 1 && list[0].OpType == op ? list[0]
                : throw new RewriteException($"{t.Module}: '{value}' should feed exactly one {op} (transposed LoRA branch expected)");
        }
        var down = Single(t.A, "MatMul");
        var up = Single(down.Outputs[0], "MatMul");
        var add = Single(up.Outputs[0], "Add");
        if (up.Input(1) != t.B || !producers.TryGetValue(add.Input(0), out var baseNode) || baseNode.OpType is not ("MatMul" or MatMulNBits.OpType)
            || baseNode.Input(1) != StoredWeight(t) || !g.Initializers.ContainsKey(StoredWeight(t)))
        {
            throw new RewriteException($"{t.Module}: LoRA branch does not have the shape Add(MatMul(x, W), MatMul(MatMul(x, A), B))");
        }
        return new Matched(t, baseNode, down, up, add);
    }

    // The initializer the base node reads: W itself, or an int4 weight's codes.
    private static string StoredWeight(LoraTarget t) => t.Layer.Layout == WeightLayout.Int4 ? MatMulNBits.CodesName(t.Weight) : t.Weight;

    // Row i of [W₁|…|W_k]: row i of each Wⱼ in turn (memory-mapped slices, no full copy).
    private static void WriteConcatenated(List<Initializer> ws, Stream dst)
    {
        long rows = ws[0].Dims[0];
        for (long i = 0; i < rows; i++)
        {
            foreach (var w in ws)
            {
                int rowBytes = checked((int)(w.Dims[1] * w.Type.SizeInBytes()));
                dst.Write(w.Data.Span.Slice(checked((int)(i * rowBytes)), rowBytes));
            }
        }
    }
}
