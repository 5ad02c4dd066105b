// LoRA hyperparameters and targets, as PEFT's LoraConfig names them.
// scaling = alpha / r, or alpha / sqrt(r) with rsLoRA.
namespace OnnxLora.Rewrite.Lora;

public sealed record LoraSettings
{
    public static readonly string[] DefaultTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public int Rank { get; init; } = 8;

    public double Alpha { get; init; } = 16;

    public double Dropout { get; init; }

    public bool UseRsLora { get; init; }

    /// <summary>Module names (q_proj, …, lm_head) or the single word "all-linear".</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = DefaultTargets;

    /// <summary>Optional regex on the weight initializer name; when set it replaces <see cref="TargetModules"/>.</summary>
    public string? TargetRegex { get; init; }

    /// <summary>Restrict to these layer indices (null: all).</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    public int Seed { get; init; }

    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    public void Validate()
    {
        if (Rank <= 0)
        {
            throw new ArgumentException($"lora r must be > 0, got {Rank}");
        }
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            throw new ArgumentException($"lora alpha must be > 0, got {Alpha}");
        }
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
        {
            throw new ArgumentException($"lora dropout must be in [0, 1), got {Dropout}");
        }
        if (TargetModules.Count == 0 && TargetRegex is null)
        {
            throw new ArgumentException("lora targets are empty");
        }
    }
}
