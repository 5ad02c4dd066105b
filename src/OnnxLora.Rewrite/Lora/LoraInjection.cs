// Injects LoRA into every targeted MatMul whose weight W (in,out) is a frozen initializer:
//   y = x·W + scaling · (dropout(x)·Aᵀ)·Bᵀ        A (r,in), B (out,r) become graph inputs.
// W stays an initializer (its external data is untouched). Names follow PEFT one to one.
// It does not initialise A/B; LoraInit does, and the trainer owns their values.
using System.Text.RegularExpressions;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public sealed class LoraInjection
{
    public static readonly string[] KnownModules = [.. GenAiNames.AttentionProjections, .. GenAiNames.MlpProjections, "lm_head"];

    /// <summary>Injects adapters; <paramref name="training"/> adds the dropout branch when dropout &gt; 0.
    /// <paramref name="transposed"/> takes A as Aᵀ (in,r) and B as Bᵀ (r,out) inputs (the inference layout of
    /// .onnx_adapter files), so no Transpose runs per token; a scaling of exactly 1 then adds no Mul either.</summary>
    public static (PassResult Result, IReadOnlyList<LoraTarget> Targets) Run(Model model, LoraSettings s, bool training,
        ElementType computeType = ElementType.Float, bool transposed = false)
    {
        s.Validate();
        var matcher = Matcher(s);
        var g = model.Graph;
        var targets = new List<LoraTarget>();
        var matmuls = g.Nodes.Where(n => n.OpType == "MatMul" && n.Domain.Length == 0).ToList();
        foreach (var n in matmuls)
        {
            var w = n.Input(1);
            var module = GenAiNames.HfModuleOf(w) ?? w;
            if (!matcher(w, module))
            {
                continue;
            }
            if (!g.Initializers.TryGetValue(w, out var weight))
            {
                throw new RewriteException($"{n}: weight '{w}' is not an initializer, so it cannot be frozen and adapted");
            }
            if (weight.Dims.Length != 2)
            {
                throw new RewriteException($"{n}: weight '{w}' has rank {weight.Dims.Length}, expected 2");
            }
            var target = new LoraTarget(module, w, Peft.A(module), Peft.B(module),
                weight.Dims[0], weight.Dims[1], s.Rank, s.Scaling);
            Inject(g, n, target, s, training, computeType, transposed);
            targets.Add(target);
        }
        if (targets.Count == 0)
        {
            throw new RewriteException(
                $"no MatMul weight matched the LoRA targets ({(s.TargetRegex is null ? string.Join(",", s.TargetModules) : "/" + s.TargetRegex + "/")})");
        }
        g.TopologicalSort();
        return (new PassResult(model, true), targets);
    }

    private static void Inject(Graph g, Node matmul, LoraTarget t, LoraSettings s, bool training, ElementType computeType, bool transposed)
    {
        g.Inputs.Add(transposed ? Graph.MakeValueInfo(t.A, ElementType.Float, t.In, t.Rank) : Graph.MakeValueInfo(t.A, ElementType.Float, t.Rank, t.In));
        g.Inputs.Add(transposed ? Graph.MakeValueInfo(t.B, ElementType.Float, t.Rank, t.Out) : Graph.MakeValueInfo(t.B, ElementType.Float, t.Out, t.Rank));
        var b = new GraphBuilder(g, "/lora/" + t.Module + "/");
        var y = matmul.Outputs[0];
        var baseOut = g.UniqueName(y + "/base");
        matmul.Outputs[0] = baseOut;

        var x = matmul.Input(0);
        if (training && s.Dropout > 0)
        {
            x = b.Node("Dropout", [x, b.Scalar((float)s.Dropout), TrueConstant(b)], outputs: 1, attributes: ("seed", (long)s.Seed))[0];
        }
        string a = transposed ? t.A : b.Transpose(t.A, 1, 0), bt = transposed ? t.B : b.Transpose(t.B, 1, 0); // Aᵀ (in,r), Bᵀ (r,out)
        if (computeType != ElementType.Float)
        {
            a = b.Cast(a, computeType);
            bt = b.Cast(bt, computeType);
        }
        var down = b.MatMul(x, a); // (B,T,r)
        var up = b.MatMul(down, bt); // (B,T,out)
        if (transposed && t.Scaling == 1.0)
        {
            b.NodeWithOutputs("Add", [baseOut, up], [y]); // scaling already in B (adapter-ready model)
            return;
        }
        var scale = b.Scalar((float)t.Scaling);
        if (computeType != ElementType.Float)
        {
            scale = b.Cast(scale, computeType);
        }
        var delta = b.Mul(up, scale);
        b.NodeWithOutputs("Add", [baseOut, delta], [y]);
    }

    private static string TrueConstant(GraphBuilder b)
    {
        var name = b.Graph.UniqueName("const_true");
        b.Graph.AddInitializer(new Initializer(name, ElementType.Bool, [], TensorData.FromBytes([1])));
        return name;
    }

    private static Func<string, string, bool> Matcher(LoraSettings s)
    {
        if (s.TargetRegex is { } pattern)
        {
            Regex re;
            try
            {
                re = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"lora target regex '{pattern}' is invalid: {e.Message}");
            }
            return (w, _) => re.IsMatch(w) && Layer(w, s);
        }
        bool allLinear = s.TargetModules.Count == 1 && s.TargetModules[0] == "all-linear";
        if (!allLinear)
        {
            foreach (var m in s.TargetModules)
            {
                if (!KnownModules.Contains(m))
                {
                    throw new ArgumentException($"unknown LoRA target module '{m}' (known: {string.Join(", ", KnownModules)}, or all-linear)");
                }
            }
        }
        return (w, module) =>
        {
            var leaf = module[(module.LastIndexOf('.') + 1)..];
            bool hit = allLinear ? leaf != "lm_head" && GenAiNames.HfModuleOf(w) is not null : s.TargetModules.Contains(leaf);
            return hit && Layer(w, s);
        };
    }

    private static bool Layer(string weight, LoraSettings s)
    {
        if (s.Layers is null)
        {
            return true;
        }
        var parts = weight.Split('.');
        return parts.Length > 2 && parts[0] == "model" && parts[1] == "layers" && int.TryParse(parts[2], out int i) && s.Layers.Contains(i);
    }
}
