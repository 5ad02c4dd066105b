// One injected adapter: the frozen weight it rides on and the names of its A (r,in) and B (out,r).
namespace OnnxLora.Rewrite.Lora;

public sealed record LoraTarget(string Module, string Weight, string A, string B, long In, long Out, int Rank, double Scaling)
{
    /// <summary>PEFT's parameter name prefix for a module, e.g. base_model.model.model.layers.0.self_attn.q_proj.</summary>
    public static string PeftPrefix(string module) => "base_model.model." + module;

    public static string PeftA(string module) => PeftPrefix(module) + ".lora_A.weight";

    public static string PeftB(string module) => PeftPrefix(module) + ".lora_B.weight";
}
