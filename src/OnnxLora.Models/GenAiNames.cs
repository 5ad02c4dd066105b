// Value and initializer names of the ORT GenAI Llama layout, as Microsoft's model builder
// writes them. Every pass finds weights through these, so they live in one place.
using System.Globalization;

namespace OnnxLora.Models;

public static class GenAiNames
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string Logits = "logits";
    public const string CosCache = "cos_cache";
    public const string SinCache = "sin_cache";
    public const string Embedding = "model.embed_tokens.weight";
    public const string LmHead = "lm_head.MatMul.weight";

    public static readonly string[] AttentionProjections = ["q_proj", "k_proj", "v_proj", "o_proj"];
    public static readonly string[] MlpProjections = ["gate_proj", "up_proj", "down_proj"];

    public static string PastKey(int layer) => $"past_key_values.{I(layer)}.key";
    public static string PastValue(int layer) => $"past_key_values.{I(layer)}.value";
    public static string PresentKey(int layer) => $"present.{I(layer)}.key";
    public static string PresentValue(int layer) => $"present.{I(layer)}.value";
    public static string InputNorm(int layer) => $"model.layers.{I(layer)}.input_layernorm.weight";
    public static string PostAttentionNorm(int layer) => $"model.layers.{I(layer)}.post_attention_layernorm.weight";
    public static string FinalNorm(int layers) => $"model.layers.{I(layers)}.final_norm_layernorm.weight";

    /// <summary>Initializer of a projection, e.g. model.layers.0.attn.q_proj.MatMul.weight (stored [in, out]).</summary>
    public static string Projection(int layer, string module) =>
        $"model.layers.{I(layer)}.{(IsAttention(module) ? "attn" : "mlp")}.{module}.MatMul.weight";

    /// <summary>The Hugging Face module path of a projection, e.g. model.layers.0.self_attn.q_proj.</summary>
    public static string HfModule(int layer, string module) =>
        $"model.layers.{I(layer)}.{(IsAttention(module) ? "self_attn" : "mlp")}.{module}";

    public static bool IsAttention(string module) => AttentionProjections.Contains(module);

    /// <summary>Maps a GenAI MatMul weight name back to its HF module path ("lm_head" included), or null.</summary>
    public static string? HfModuleOf(string initializer)
    {
        if (initializer == LmHead)
        {
            return "lm_head";
        }
        const string suffix = ".MatMul.weight";
        if (!initializer.StartsWith("model.layers.", StringComparison.Ordinal) || !initializer.EndsWith(suffix, StringComparison.Ordinal))
        {
            return null;
        }
        var parts = initializer[..^suffix.Length].Split('.');
        if (parts.Length != 5 || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
        {
            return null;
        }
        return HfModule(layer, parts[4]);
    }

    private static string I(int i) => i.ToString(CultureInfo.InvariantCulture);
}
