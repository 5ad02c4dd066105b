// LoRA hyperparameters and targets, as PEFT's LoraConfig names them. Defaults and the scaling
// rule (alpha / r, or alpha / sqrt(r) with rsLoRA) come from Peft; this record only carries values.
using OnnxLora.Onnx;

namespace OnnxLora.Rewrite.Lora;

public sealed record LoraSettings
{
    public int Rank { get; init; } = Peft.DefaultRank;

    public double Alpha { get; init; } = Peft.DefaultAlpha;

    public double Dropout { get; init; }

    public bool UseRsLora { get; init; }

    /// <summary>Module names, matched as PEFT does: a module whose path is the name or ends in "." + name (q_proj,
    /// self_attn.q_proj, lm_head); or the single word "all-linear" (every linear but the LM head).</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = Peft.DefaultTargets;

    /// <summary>Optional regex that must match a whole HF module path (PEFT's single-string target_modules, re.fullmatch);
    /// when set it replaces <see cref="TargetModules"/>.</summary>
    public string? TargetRegex { get; init; }

    /// <summary>Restrict to these layer indices (null: all).</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    public int Seed { get; init; }

    public double Scaling => ScalingAt(Rank);

    /// <summary>The scaling of a module of <paramref name="rank"/> under these settings (an adapter file's tensors give the rank).</summary>
    public double ScalingAt(int rank) => Peft.Scaling(Alpha, rank, UseRsLora);

    public void Validate()
    {
        if (Rank <= 0)
        {
            throw new BadInputException($"lora r must be > 0, got {Rank}");
        }
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            throw new BadInputException($"lora alpha must be > 0, got {Alpha}");
        }
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
        {
            throw new BadInputException($"lora dropout must be in [0, 1), got {Dropout}");
        }
        if (TargetModules.Count == 0 && TargetRegex is null)
        {
            throw new BadInputException("lora targets are empty");
        }
    }
}
