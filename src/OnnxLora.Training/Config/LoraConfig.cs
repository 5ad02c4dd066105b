// The "lora:" block of a TrainConfig, in PEFT's names. Its defaults are the project's LoRA defaults
// (Peft.Default*: r 16, alpha 32, dropout 0, the seven Llama projections), declared there once.
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Config;

public sealed record LoraConfig
{
    public int R { get; init; } = Peft.DefaultRank;

    public double Alpha { get; init; } = Peft.DefaultAlpha;

    public double Dropout { get; init; }

    /// <summary>Module names (q_proj, …, lm_head) or the single entry "all-linear".</summary>
    public IReadOnlyList<string> Targets { get; init; } = Peft.DefaultTargets;

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
