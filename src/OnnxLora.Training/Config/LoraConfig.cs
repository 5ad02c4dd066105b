// The "lora:" block of a TrainConfig, in PEFT's names. Defaults: r 16, alpha 32 (TRL/PEFT examples), dropout 0
// (PEFT examples often use 0.05; 0 keeps the training graph free of random masks), the seven Llama projections.
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Config;

public sealed record LoraConfig
{
    public int R { get; init; } = 16;

    public double Alpha { get; init; } = 32;

    public double Dropout { get; init; }

    /// <summary>Module names (q_proj, …, lm_head) or the single entry "all-linear".</summary>
    public IReadOnlyList<string> Targets { get; init; } = LoraSettings.DefaultTargets;

    /// <summary>Regex on weight names; when set it replaces <see cref="Targets"/>.</summary>
    public string? TargetRegex { get; init; }

    /// <summary>Layer indices to adapt; null adapts every layer.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>rsLoRA: scaling = alpha / sqrt(r) instead of alpha / r.</summary>
    public bool Rslora { get; init; }

    public LoraSettings ToSettings(int seed) => new()
    {
        Rank = R,
        Alpha = Alpha,
        Dropout = Dropout,
        TargetModules = Targets,
        TargetRegex = TargetRegex,
        Layers = Layers,
        UseRsLora = Rslora,
        Seed = seed,
    };
}
