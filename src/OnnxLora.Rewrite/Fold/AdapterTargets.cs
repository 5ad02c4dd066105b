// Maps a PEFT adapter's tensors onto the model's linear layers: module path → LinearLayer (LinearDiscovery,
// so packed, transposed and torch-named weights resolve alike), with shape checks against the layer's
// in/out (its slice for packed Q/K/V). Every mismatch is one line naming the adapter tensor or module.
// It does not read weight bytes; fold, base hashing and the .onnx_adapter writer all start here.
using System.Globalization;
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Rewrite.Fold;

public static class AdapterTargets
{
    /// <summary>One target per lora_A tensor, in the adapter's order; W is [in,out], A (r,in), B (out,r).</summary>
    public static IReadOnlyList<LoraTarget> Resolve(Graph graph, PeftAdapter adapter, string source)
    {
        var targets = new List<LoraTarget>();
        Dictionary<string, LinearLayer>? linears = null;
        foreach (var name in adapter.Tensors.Keys)
        {
            if (Peft.IsB(name))
            {
                var a = Peft.AOfB(name);
                if (!adapter.Tensors.ContainsKey(a))
                {
                    throw new ModelFormatException($"{source}: adapter tensor '{name}' has no matching '{a}'");
                }
                continue;
            }
            if (!Peft.TryParseA(name, out var module))
            {
                throw new ModelFormatException($"{source}: adapter tensor '{name}' is not a LoRA A/B weight (expected {Peft.Prefix}<module>{Peft.ASuffix})");
            }
            linears ??= LinearDiscovery.Find(graph).ToDictionary(l => l.Module, StringComparer.Ordinal);
            if (!linears.TryGetValue(module, out var linear))
            {
                throw new ModelFormatException(
                    $"{source}: adapter tensor '{name}' targets '{module}', which this model does not have (its linear modules: {Modules(linears)})");
            }
            var bName = Peft.B(module);
            if (!adapter.Tensors.TryGetValue(bName, out var b))
            {
                throw new ModelFormatException($"{source}: adapter has '{name}' but no '{bName}'");
            }
            var aShape = adapter.Tensors[name].Shape;
            long inF = linear.In, outF = linear.Out;
            var weight = linear.Weight;
            if (aShape.Length != 2 || aShape[1] != inF)
            {
                throw new ModelFormatException(
                    $"{source}: tensor '{name}' has shape [{string.Join(",", aShape)}], weight '{weight}' [in,out]=[{inF},{outF}] needs [r,{inF}]");
            }
            int rank = checked((int)aShape[0]);
            if (b.Shape.Length != 2 || b.Shape[0] != outF || b.Shape[1] != rank)
            {
                throw new ModelFormatException(
                    $"{source}: tensor '{bName}' has shape [{string.Join(",", b.Shape)}], weight '{weight}' needs [{outF},{rank}]");
            }
            targets.Add(new LoraTarget(module, weight, name, bName, inF, outF, rank, adapter.Settings.ScalingAt(rank)) { Linear = linear });
        }
        if (targets.Count == 0)
        {
            throw new ModelFormatException($"{source}: adapter has no lora_A/lora_B tensors");
        }
        return targets;
    }

    private static string Modules(Dictionary<string, LinearLayer> linears)
    {
        var names = linears.Keys.Take(8).ToList();
        return names.Count == 0 ? "none found" : string.Join(", ", names) + (linears.Count > names.Count ? $", … {linears.Count - names.Count} more" : "");
    }

    /// <summary>The canonical weight name of a module in our import's layout, used to name it layout-independently (BaseHash):
    /// model.layers.3.self_attn.q_proj → model.layers.3.attn.q_proj.MatMul.weight; lm_head → lm_head.MatMul.weight.</summary>
    public static string? WeightOf(string module)
    {
        if (module == "lm_head")
        {
            return GenAiNames.LmHead;
        }
        var p = module.Split('.');
        if (p.Length != 5 || p[0] != "model" || p[1] != "layers"
            || !int.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
        {
            return null;
        }
        bool attn = GenAiNames.IsAttention(p[4]);
        if (!(attn ? p[3] == "self_attn" : p[3] == "mlp" && GenAiNames.MlpProjections.Contains(p[4])))
        {
            return null;
        }
        return GenAiNames.Projection(layer, p[4]);
    }
}
