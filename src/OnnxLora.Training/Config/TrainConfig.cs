// Every setting of a training run, under the snake_case keys of the YAML/JSON file (TrainConfigLoader reads it,
// CLI flags override it, the effective config is saved as JSON in the run folder). Defaults follow HF
// Trainer/TRL SFT: lr 2e-4, linear schedule, 3 epochs, batch 8, max_seq_len 1024, max_grad_norm 1, seed 42.
// How ORT runs (device, TF32, threads, arenas) is the `runtime:` group, a RuntimeOptions; the old top-level
// `device:` key is still read into runtime.device.
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Config;

public sealed record TrainConfig
{
    public static readonly IReadOnlyList<string> Schedules = ["constant", "linear", "cosine"];
    public static readonly IReadOnlyList<string> Formats = ["auto", "text", "prompt_completion", "messages"];

    /// <summary>Model folder (GenAI layout, or anything `onnxlora import` takes).</summary>
    public string? Model { get; init; }

    /// <summary>Training JSONL file.</summary>
    public string? Data { get; init; }

    /// <summary>Validation JSONL file; exclusive with <see cref="ValSplit"/>.</summary>
    public string? ValData { get; init; }

    /// <summary>Fraction of <see cref="Data"/> held out for validation, in [0, 1).</summary>
    public double ValSplit { get; init; }

    /// <summary>auto | text | prompt_completion | messages.</summary>
    public string Format { get; init; } = "auto";

    /// <summary>null: the model's own template. Else one of its named templates, a built-in layout (chatml, llama2,
    /// llama3, zephyr, plain) for models without one, or a .jinja file.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>Run folder; null lets the trainer choose one under runs/.</summary>
    public string? Output { get; init; }

    public LoraConfig Lora { get; init; } = new();

    public bool FullFineTune { get; init; }

    public double Lr { get; init; } = 2e-4;

    /// <summary>constant | linear | cosine, each after <see cref="WarmupSteps"/> of linear warmup.</summary>
    public string Schedule { get; init; } = "linear";

    public int WarmupSteps { get; init; }

    public int Epochs { get; init; } = 3;

    /// <summary>Optimizer steps to stop after; null: run all epochs.</summary>
    public int? MaxSteps { get; init; }

    public int BatchSize { get; init; } = 8;

    public int GradAccum { get; init; } = 1;

    public int MaxSeqLen { get; init; } = 1024;

    public bool Packing { get; init; }

    public double WeightDecay { get; init; }

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.999;

    public double Eps { get; init; } = 1e-8;

    /// <summary>Global-norm clip; 0 disables clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    public int Seed { get; init; } = 42;

    /// <summary>Evaluate every N optimizer steps; 0: only at the end.</summary>
    public int EvalEvery { get; init; }

    /// <summary>Checkpoint every N optimizer steps; 0: only at the end.</summary>
    public int SaveEvery { get; init; }

    /// <summary>Checkpoints kept; 0 keeps all.</summary>
    public int KeepLast { get; init; } = 2;

    public int LogEvery { get; init; } = 10;

    public MemoryConfig Memory { get; init; } = new();

    /// <summary>Device and ORT session settings (config group "runtime"; recorded in the run's config.json).</summary>
    public RuntimeOptions Runtime { get; init; } = new();

    [JsonIgnore]
    public DatasetFormat DatasetFormat => Format switch
    {
        "text" => DatasetFormat.Text,
        "prompt_completion" => DatasetFormat.PromptCompletion,
        "messages" => DatasetFormat.Messages,
        _ => DatasetFormat.Auto,
    };

    public AdamWOptions ToAdamWOptions() =>
        new((float)Beta1, (float)Beta2, (float)Eps, (float)WeightDecay, MaxGradNorm > 0 ? (float)MaxGradNorm : null);

    public LrSchedule ToSchedule(int totalSteps) => new(Schedule, Lr, WarmupSteps, totalSteps);

    /// <summary>Throws a <see cref="ConfigException"/> naming the first key that is missing or out of range.</summary>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(Model), "model", "model is required");
        Require(!string.IsNullOrWhiteSpace(Data), "data", "data is required");
        Require(ValSplit is >= 0 and < 1, "val_split", $"val_split must be in [0, 1), got {ValSplit}");
        Require(ValData is null || ValSplit == 0, "val_split", "val_split and val_data are exclusive; give one");
        OneOf(Format, Formats, "format");
        Require(ChatTemplate is null || ChatTemplate.Trim().Length > 0, "chat_template",
            "chat_template is empty (give a named template of the model, a built-in layout or a .jinja file)");
        Require(Lora.R > 0, "lora.r", $"lora.r must be > 0, got {Lora.R}");
        Require(Lora.Alpha > 0 && double.IsFinite(Lora.Alpha), "lora.alpha", $"lora.alpha must be > 0, got {Lora.Alpha}");
        Require(Lora.Dropout is >= 0 and < 1, "lora.dropout", $"lora.dropout must be in [0, 1), got {Lora.Dropout}");
        Require(Lora.Targets.Count > 0 || Lora.TargetRegex is not null, "lora.targets", "lora.targets is empty");
        Require(Lora.Layers is null || Lora.Layers.All(l => l >= 0), "lora.layers", "lora.layers must be >= 0");
        if (Lora.TargetRegex is { } regex)
        {
            try
            {
                _ = new Regex(regex);
            }
            catch (ArgumentException e)
            {
                throw new ConfigException("lora.target_regex", $"lora.target_regex is not a valid regex: {e.Message}");
            }
        }
        Require(Lr > 0 && double.IsFinite(Lr), "lr", $"lr must be > 0, got {Lr}");
        OneOf(Schedule, Schedules, "schedule");
        Require(WarmupSteps >= 0, "warmup_steps", $"warmup_steps must be >= 0, got {WarmupSteps}");
        Require(Epochs >= 1, "epochs", $"epochs must be >= 1, got {Epochs}");
        Require(MaxSteps is null or >= 1, "max_steps", $"max_steps must be >= 1 (or null), got {MaxSteps}");
        Require(BatchSize >= 1, "batch_size", $"batch_size must be >= 1, got {BatchSize}");
        Require(GradAccum >= 1, "grad_accum", $"grad_accum must be >= 1, got {GradAccum}");
        Require(MaxSeqLen >= 2, "max_seq_len", $"max_seq_len must be >= 2, got {MaxSeqLen}");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight_decay", $"weight_decay must be >= 0, got {WeightDecay}");
        Require(Beta1 is >= 0 and < 1, "beta1", $"beta1 must be in [0, 1), got {Beta1}");
        Require(Beta2 is >= 0 and < 1, "beta2", $"beta2 must be in [0, 1), got {Beta2}");
        Require(Eps >= 0 && double.IsFinite(Eps), "eps", $"eps must be >= 0, got {Eps}");
        Require(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "max_grad_norm", $"max_grad_norm must be >= 0 (0 disables), got {MaxGradNorm}");
        Require(EvalEvery >= 0, "eval_every", $"eval_every must be >= 0, got {EvalEvery}");
        Require(SaveEvery >= 0, "save_every", $"save_every must be >= 0, got {SaveEvery}");
        Require(KeepLast >= 0, "keep_last", $"keep_last must be >= 0, got {KeepLast}");
        Require(LogEvery >= 1, "log_every", $"log_every must be >= 1, got {LogEvery}");
        Require(Memory.AttentionBlocks >= 1, "memory.attention_blocks", $"memory.attention_blocks must be >= 1 (1: full attention), got {Memory.AttentionBlocks}");
        Require(Memory.LossChunks is null or >= 1, "memory.loss_chunks", $"memory.loss_chunks must be >= 1 (or null), got {Memory.LossChunks}");
        if (Runtime.Problem() is { } runtime)
        {
            throw new ConfigException("runtime." + runtime.Key, "runtime." + runtime.Message);
        }
    }

    private static void Require(bool ok, string key, string message)
    {
        if (!ok)
        {
            throw new ConfigException(key, message);
        }
    }

    private static void OneOf(string value, IReadOnlyList<string> allowed, string key) =>
        Require(allowed.Contains(value), key, $"{key} '{value}' is unknown (expected {string.Join(", ", allowed)})");
}
