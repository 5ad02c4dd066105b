// Hugging Face module paths (model.layers.0.self_attn.q_proj, lm_head) recovered from the names exporters
// give a linear layer: the weight initializer (builder/our import "model.layers.0.attn.q_proj.MatMul.weight",
// HF "model.layers.0.self_attn.q_proj.weight") or the node ("/model/layers.0/self_attn/q_proj/MatMul",
// "/model/model/layers.0/...", "/layers.0/...", "/base_model/model/model/layers.0/..."). Liberal on
// prefixes, strict on shape: a path is a module only when it has "layers.N" or is the LM head. No graph access.
using System.Globalization;

namespace OnnxLora.Rewrite.Lora;

public static class ModulePaths
{
    /// <summary>The builder packs a layer's q/k/v projections into one MatMul under this name.</summary>
    public const string PackedQkv = "qkv_proj";

    public static readonly string[] QkvParts = ["q_proj", "k_proj", "v_proj"];

    private static readonly string[] s_weightSuffixes = [".MatMul.weight", ".Gemm.weight", ".weight"];

    private static readonly HashSet<string> s_attentionLeaves = ["q_proj", "k_proj", "v_proj", "o_proj", PackedQkv];

    /// <summary>The module an initializer name spells, or null (e.g. torch's onnx::MatMul_12).</summary>
    public static string? FromWeight(string initializer)
    {
        if (initializer.Contains("::", StringComparison.Ordinal))
        {
            return null;
        }
        foreach (var suffix in s_weightSuffixes)
        {
            if (initializer.EndsWith(suffix, StringComparison.Ordinal))
            {
                return Normalize(initializer[..^suffix.Length].Split('.'));
            }
        }
        return null;
    }

    /// <summary>The module a node name spells: its scope without the last segment (the op), or null.</summary>
    public static string? FromNode(string nodeName)
    {
        var parts = nodeName.Trim('/').Split('/');
        if (parts.Length < 2)
        {
            return null;
        }
        return Normalize(parts[..^1].SelectMany(p => p.Split('.')).ToArray());
    }

    /// <summary>
    /// "model.layers.N.&lt;...&gt;" from the first "layers.N" on (whatever came before it), with the builder's
    /// "attn" read as transformers' "self_attn"; "lm_head" when the path ends in it; otherwise null.
    /// </summary>
    public static string? Normalize(string[] segments)
    {
        for (int i = 0; i + 2 < segments.Length; i++)
        {
            if (segments[i] == "layers" && IsIndex(segments[i + 1]))
            {
                var rest = segments[(i + 2)..];
                if (rest.Length >= 2 && rest[0] == "attn" && s_attentionLeaves.Contains(rest[^1]))
                {
                    rest[0] = "self_attn";
                }
                return "model.layers." + segments[i + 1] + "." + string.Join('.', rest);
            }
        }
        return segments.Length > 0 && segments[^1] == "lm_head" ? "lm_head" : null;
    }

    /// <summary>The layer index of a module path (model.layers.3.… → 3), or null.</summary>
    public static int? LayerOf(string module)
    {
        var parts = module.Split('.');
        for (int i = 0; i + 1 < parts.Length; i++)
        {
            if (parts[i] == "layers" && IsIndex(parts[i + 1]))
            {
                return int.Parse(parts[i + 1], NumberStyles.None, CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    /// <summary>The last segment: q_proj, down_proj, lm_head.</summary>
    public static string Leaf(string module) => module[(module.LastIndexOf('.') + 1)..];

    /// <summary>model.layers.0.self_attn.qkv_proj → model.layers.0.self_attn.q_proj (k_proj, v_proj).</summary>
    public static string Sibling(string module, string leaf) => module[..(module.LastIndexOf('.') + 1)] + leaf;

    private static bool IsIndex(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);
}
