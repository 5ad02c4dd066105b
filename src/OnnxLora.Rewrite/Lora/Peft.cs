// PEFT's conventions and OnnxLora's LoRA defaults, in one place: parameter names
// (base_model.model.<module>.lora_A.weight), the scaling rule (alpha/r; rsLoRA alpha/√r), what a key
// missing from adapter_config.json means (PEFT's LoraConfig defaults), and the defaults for a new adapter.
// Every other file asks here; none spells a PEFT name or the scaling formula itself. No IO here.
namespace OnnxLora.Rewrite.Lora;

public static class Peft
{
    /// <summary>What PEFT puts before the module path (PeftModel → LoraModel → the HF model).</summary>
    public const string Prefix = "base_model.model.";

    public const string ASuffix = ".lora_A.weight";

    public const string BSuffix = ".lora_B.weight";

    // Defaults for a new adapter (train's "lora:" block, the artifacts command, LoraSettings): r 16 and alpha 32
    // as in TRL/PEFT examples, dropout 0 (PEFT examples often use 0.05; 0 keeps the training graph free of
    // random masks), rsLoRA off, the seven Llama projections.
    public const int DefaultRank = 16;

    public const double DefaultAlpha = 32;

    public static readonly IReadOnlyList<string> DefaultTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    // What adapter_config.json means when a key is absent: PEFT's own LoraConfig defaults (peft/tuners/lora/config.py:
    // r 8, lora_alpha 8, lora_dropout 0.0, use_rslora False), since PEFT fills a missing key with them on load;
    // without target_modules PEFT takes its per-architecture choice, for Llama q_proj and v_proj.
    public const int ConfigFileRank = 8;

    public const double ConfigFileAlpha = 8;

    public const double ConfigFileDropout = 0;

    public const bool ConfigFileRsLora = false;

    public static readonly IReadOnlyList<string> ConfigFileTargets = ["q_proj", "v_proj"];

    /// <summary>base_model.model.&lt;module&gt;.lora_A.weight: A (r,in).</summary>
    public static string A(string module) => Prefix + module + ASuffix;

    /// <summary>base_model.model.&lt;module&gt;.lora_B.weight: B (out,r).</summary>
    public static string B(string module) => Prefix + module + BSuffix;

    /// <summary>The module of a lora_A name (base_model.model.&lt;module&gt;.lora_A.weight); false for any other name.</summary>
    public static bool TryParseA(string name, out string module)
    {
        bool ok = name.StartsWith(Prefix, StringComparison.Ordinal) && name.EndsWith(ASuffix, StringComparison.Ordinal)
            && name.Length > Prefix.Length + ASuffix.Length;
        module = ok ? name[Prefix.Length..^ASuffix.Length] : "";
        return ok;
    }

    public static bool IsB(string name) => name.EndsWith(BSuffix, StringComparison.Ordinal);

    /// <summary>The lora_A name that pairs with a lora_B name.</summary>
    public static string AOfB(string bName) => bName[..^BSuffix.Length] + ASuffix;

    /// <summary>PEFT may save keys with its default adapter name (…lora_A.default.weight); this is the name without it.</summary>
    public static string WithoutAdapterName(string savedName) =>
        savedName.Replace(".lora_A.default.weight", ASuffix, StringComparison.Ordinal)
            .Replace(".lora_B.default.weight", BSuffix, StringComparison.Ordinal);

    /// <summary>PEFT's scaling: alpha / r, or alpha / √r with rsLoRA.</summary>
    public static double Scaling(double alpha, int rank, bool rsLora) => rsLora ? alpha / Math.Sqrt(rank) : alpha / rank;
}
