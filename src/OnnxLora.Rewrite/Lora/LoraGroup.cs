// Adapters that read the same input share one LoRA branch in the adapter-ready model: a layer's
// q/k/v projections (all read the attention norm) and its gate/up projections (the MLP norm).
// A group's A is the column concatenation [A₁ᵀ|A₂ᵀ|…] (in,Σr) and its B the block diagonal of the
// scaled Bᵢᵀ (Σr,Σout). One rule, used by the ready model and by the .onnx_adapter export alike.
using OnnxLora.Models;

namespace OnnxLora.Rewrite.Lora;

public sealed record LoraGroup(string Name, IReadOnlyList<string> Modules)
{
    private static readonly string[][] s_shared = [["q_proj", "k_proj", "v_proj"], ["gate_proj", "up_proj"]];

    public bool IsFused => Modules.Count > 1;

    /// <summary>The group's A parameter, named like PEFT's: a single module's is PEFT's own name.</summary>
    public string A => Peft.A(Name);

    public string B => Peft.B(Name);

    /// <summary>Groups in order of first appearance; members in q,k,v / gate,up order, e.g. model.layers.0.self_attn.q_proj+k_proj+v_proj.</summary>
    public static IReadOnlyList<LoraGroup> Of(IEnumerable<string> modules)
    {
        var byKey = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var m in modules.Distinct())
        {
            var key = SharedKey(m) ?? m;
            if (!byKey.TryGetValue(key, out var list))
            {
                byKey[key] = list = [];
                order.Add(key);
            }
            list.Add(m);
        }
        return order.Select(k =>
        {
            var members = byKey[k].OrderBy(Position).ToList();
            if (members.Count == 1)
            {
                return new LoraGroup(members[0], members);
            }
            var prefix = members[0][..(members[0].LastIndexOf('.') + 1)];
            return new LoraGroup(prefix + string.Join("+", members.Select(m => m[prefix.Length..])), members);
        }).ToList();
    }

    // model.layers.3.self_attn.k_proj → "model.layers.3.self_attn.#0"; modules outside a shared set → null.
    private static string? SharedKey(string module)
    {
        var leafAt = module.LastIndexOf('.');
        var leaf = module[(leafAt + 1)..];
        for (int i = 0; i < s_shared.Length; i++)
        {
            if (s_shared[i].Contains(leaf) && Fold.AdapterTargets.WeightOf(module) is not null)
            {
                return module[..(leafAt + 1)] + "#" + i;
            }
        }
        return null;
    }

    private static int Position(string module)
    {
        var leaf = module[(module.LastIndexOf('.') + 1)..];
        int i = Array.IndexOf<string>([.. GenAiNames.AttentionProjections, .. GenAiNames.MlpProjections], leaf);
        return i < 0 ? int.MaxValue : i;
    }
}
