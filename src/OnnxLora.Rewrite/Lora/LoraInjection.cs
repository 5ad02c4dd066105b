// Injects LoRA into every targeted linear layer that LinearDiscovery finds (MatMul on [in,out] or
// transposed [out,in] weights, Gemm, packed Q/K/V slices):
//   y = x·W + scaling · (dropout(x)·Aᵀ)·Bᵀ        A (r,in), B (out,r) become graph inputs.
// A packed weight (columns [q|k|v]) gets one branch for all its targeted slices, with A = [A_q;A_k;A_v]
// (Σr,in) and B placed block-diagonally at each slice's columns, zeros elsewhere (N,Σr), so untargeted
// slices get exactly 0. W stays an initializer (its external data is untouched). Names follow PEFT one
// to one. It does not initialise A/B; LoraInit does, and the trainer owns their values.
// B=batch, T=time, r=rank, N=the node's output width.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public sealed class LoraInjection
{
    /// <summary>Injects adapters; <paramref name="training"/> adds the dropout branch when dropout &gt; 0.
    /// <paramref name="transposed"/> takes A as Aᵀ (in,r) and B as Bᵀ (r,out) inputs in <paramref name="computeType"/> (the
    /// inference layout of .onnx_adapter files), so no Transpose or Cast runs per token; a scaling of exactly 1 then adds no
    /// Mul either, and a packed weight's slices share one pair named after their LoraGroup.</summary>
    public static (PassResult Result, IReadOnlyList<LoraTarget> Targets) Run(Model model, LoraSettings s, bool training,
        ElementType computeType = ElementType.Float, bool transposed = false)
    {
        s.Validate();
        var g = model.Graph;
        var linears = LinearDiscovery.Find(g);
        if (linears.Count == 0)
        {
            throw new RewriteException(
                "no adaptable linear layer found: no MatMul/Gemm reads a frozen 2-D float weight whose initializer or node name "
                + $"gives a module path (model.layers.N.… or lm_head); MatMul/Gemm nodes seen: {SeenLinears(g)}");
        }
        var matcher = new TargetMatcher(s);
        matcher.CheckEachNameMatches(linears.Select(l => l.Module).ToList());
        var chosen = linears.Where(l => matcher.IsTarget(l.Module)).ToList();
        if (chosen.Count == 0)
        {
            throw new RewriteException(
                $"no linear layer matched the LoRA targets ({(s.TargetRegex is null ? string.Join(",", s.TargetModules) : "/" + s.TargetRegex + "/")}"
                + $"{(s.Layers is null ? "" : ", layers " + string.Join(",", s.Layers))}); linear layers found: {LinearDiscovery.Describe(linears)}");
        }
        var targets = new List<LoraTarget>();
        foreach (var group in chosen.GroupBy(l => l.Node))
        {
            var members = group.Select(l => new LoraTarget(l.Module, l.Weight, Peft.A(l.Module), Peft.B(l.Module), l.In, l.Out, s.Rank, s.Scaling)
            {
                Linear = l,
            }).ToList();
            var node = LinearDiscovery.NodeOf(g, members[0].Layer);
            if (members.Count == 1 && !members[0].Layer.IsSlice)
            {
                Inject(g, node, members[0], s, training, computeType, transposed);
            }
            else
            {
                InjectSlices(g, node, members, s, training, computeType, transposed);
            }
            targets.AddRange(members);
        }
        g.TopologicalSort();
        return (new PassResult(model, true), targets);
    }

    private static void Inject(Graph g, Node linear, LoraTarget t, LoraSettings s, bool training, ElementType computeType, bool transposed)
    {
        var inputType = transposed ? computeType : ElementType.Float;
        g.Inputs.Add(transposed ? Graph.MakeValueInfo(t.A, inputType, t.In, t.Rank) : Graph.MakeValueInfo(t.A, inputType, t.Rank, t.In));
        g.Inputs.Add(transposed ? Graph.MakeValueInfo(t.B, inputType, t.Rank, t.Out) : Graph.MakeValueInfo(t.B, inputType, t.Out, t.Rank));
        var b = new GraphBuilder(g, "/lora/" + t.Module + "/");
        var (x, baseOut, y) = Detach(g, b, linear, s, training);
        string a = transposed ? t.A : b.Transpose(t.A, 1, 0), bt = transposed ? t.B : b.Transpose(t.B, 1, 0); // Aᵀ (in,r), Bᵀ (r,out)
        if (!transposed && computeType != ElementType.Float)
        {
            a = b.Cast(a, computeType);
            bt = b.Cast(bt, computeType);
        }
        var up = b.MatMul(b.MatMul(x, a), bt); // (B,T,r) → (B,T,out)
        AddDelta(b, baseOut, up, t.Scaling, computeType, transposed, y);
    }

    // One branch for the targeted column slices of a packed weight (N columns):
    //   A_cat = [A_1; A_2; …] (Σr,in),  B_blk (N,Σr): rows of slice i hold B_i in columns r_<i..r_≤i, every other entry 0.
    private static void InjectSlices(Graph g, Node linear, List<LoraTarget> members, LoraSettings s, bool training, ElementType computeType,
        bool transposed)
    {
        members.Sort((p, q) => p.Layer.Offset.CompareTo(q.Layer.Offset));
        var group = LoraGroup.Of(members.Select(m => m.Module)).Single();
        long inF = members[0].In, n = members[0].Layer.Columns, sumR = members.Sum(m => (long)m.Rank);
        var b = new GraphBuilder(g, "/lora/" + group.Name + "/");
        var (x, baseOut, y) = Detach(g, b, linear, s, training);
        if (transposed)
        {
            // The ready model's pair: A_g (in,Σr) and B_g (Σr,N) with each member's scaled Bᵀ at its columns (AdapterExport).
            g.Inputs.Add(Graph.MakeValueInfo(group.A, computeType, inF, sumR));
            g.Inputs.Add(Graph.MakeValueInfo(group.B, computeType, sumR, n));
            AddDelta(b, baseOut, b.MatMul(b.MatMul(x, group.A), group.B), 1.0, computeType, transposed: true, y);
            return;
        }
        foreach (var t in members)
        {
            g.Inputs.Add(Graph.MakeValueInfo(t.A, ElementType.Float, t.Rank, t.In));
            g.Inputs.Add(Graph.MakeValueInfo(t.B, ElementType.Float, t.Out, t.Rank));
        }
        var aCat = members.Count == 1 ? members[0].A : b.Concat(0, [.. members.Select(m => m.A)]); // (Σr,in)
        var rows = new List<string>();
        long column = 0, r0 = 0;
        foreach (var t in members)
        {
            if (t.Layer.Offset > column)
            {
                rows.Add(Zeros(b, t.Layer.Offset - column, sumR)); // an untargeted slice: no delta
            }
            var parts = new List<string>();
            if (r0 > 0)
            {
                parts.Add(Zeros(b, t.Out, r0));
            }
            parts.Add(t.B);
            if (sumR - r0 - t.Rank > 0)
            {
                parts.Add(Zeros(b, t.Out, sumR - r0 - t.Rank));
            }
            rows.Add(parts.Count == 1 ? parts[0] : b.Concat(1, [.. parts])); // (out_i,Σr)
            column = t.Layer.Offset + t.Out;
            r0 += t.Rank;
        }
        if (column < n)
        {
            rows.Add(Zeros(b, n - column, sumR));
        }
        var bBlock = rows.Count == 1 ? rows[0] : b.Concat(0, [.. rows]); // (N,Σr)
        string a = b.Transpose(aCat, 1, 0), bt = b.Transpose(bBlock, 1, 0); // (in,Σr), (Σr,N)
        if (computeType != ElementType.Float)
        {
            a = b.Cast(a, computeType);
            bt = b.Cast(bt, computeType);
        }
        var up = b.MatMul(b.MatMul(x, a), bt); // (B,T,Σr) → (B,T,N)
        AddDelta(b, baseOut, up, members[0].Scaling, computeType, transposed: false, y);
    }

    // Renames the linear's output to "<y>/base" so the delta can be added under the old name; returns x (after dropout).
    private static (string X, string BaseOut, string Y) Detach(Graph g, GraphBuilder b, Node linear, LoraSettings s, bool training)
    {
        var y = linear.Outputs[0];
        var baseOut = g.UniqueName(y + "/base");
        linear.Outputs[0] = baseOut;
        var x = linear.Input(0);
        if (training && s.Dropout > 0)
        {
            x = b.Node("Dropout", [x, b.Scalar((float)s.Dropout), TrueConstant(b)], outputs: 1, attributes: ("seed", (long)s.Seed))[0];
        }
        return (x, baseOut, y);
    }

    private static void AddDelta(GraphBuilder b, string baseOut, string up, double scaling, ElementType computeType, bool transposed, string y)
    {
        if (transposed && scaling == 1.0)
        {
            b.NodeWithOutputs("Add", [baseOut, up], [y]); // scaling already in B (adapter-ready model)
            return;
        }
        var scale = b.Scalar((float)scaling);
        if (computeType != ElementType.Float)
        {
            scale = b.Cast(scale, computeType);
        }
        b.NodeWithOutputs("Add", [baseOut, b.Mul(up, scale)], [y]);
    }

    private static string Zeros(GraphBuilder b, long rows, long cols) => b.Floats(new float[rows * cols], rows, cols);

    private static string TrueConstant(GraphBuilder b)
    {
        var name = b.Graph.UniqueName("const_true");
        b.Graph.AddInitializer(new Initializer(name, ElementType.Bool, [], TensorData.FromBytes([1])));
        return name;
    }

    private static string SeenLinears(Graph g)
    {
        var seen = g.Nodes.Where(n => n.OpType is "MatMul" or "Gemm").Take(8)
            .Select(n => $"'{n.Name}'({n.Input(0)}, {n.Input(1)})").ToList();
        return seen.Count == 0 ? "none" : string.Join(", ", seen);
    }
}
