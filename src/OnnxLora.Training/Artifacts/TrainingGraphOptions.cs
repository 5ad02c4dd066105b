// What the artifact builder should produce from a GenAI-layout model.
using OnnxLora.Rewrite.Lora;

namespace OnnxLora.Training.Artifacts;

public sealed record TrainingGraphOptions
{
    /// <summary>LoRA settings; null gives the plain base model (eval) or, with <see cref="FullFineTune"/>, trains every weight.</summary>
    public LoraSettings? Lora { get; init; } = new();

    public bool FullFineTune { get; init; }

    /// <summary>Dropout and gradients (training) versus a plain loss/logits graph (eval).</summary>
    public bool Training { get; init; } = true;

    public bool OutputLogits { get; init; }

    /// <summary>
    /// Dynamic loss scaling (mixed precision): the training graph takes a float32 scalar input
    /// <see cref="LossScaleInput"/> that seeds the backward pass; gradients come out multiplied by it.
    /// </summary>
    public bool LossScaling { get; init; }

    public const string LossScaleInput = "loss_scale";
}
