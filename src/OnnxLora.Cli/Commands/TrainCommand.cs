// `onnxlora train`: config file + flags → a run folder (adapter, metrics, loss curve, checkpoints).
// Ctrl+C / SIGTERM save a checkpoint and exit; --resume continues bit-identically on CPU with the runtime
// settings recorded in the run's config.json. ONNXLORA_* variables give runtime defaults; files and flags win.
using System.CommandLine;
using System.Runtime.InteropServices;
using OnnxLora.Onnx;
using OnnxLora.Training.Config;
using OnnxLora.Training.Run;

namespace OnnxLora.Cli.Commands;

internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "YAML or JSON config file (flags override it)" };
        var model = new Option<string?>("--model") { Description = "Base model: ONNX/GenAI folder or Hugging Face folder" };
        var data = new Option<string?>("--data") { Description = "Training JSONL (text | prompt/completion | messages)" };
        var output = new Option<string?>("--output", "-o") { Description = "Run folder" };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its newest checkpoint" };
        var set = new Option<string[]>("--set") { Description = "Override any config key: --set lr=1e-4 --set lora.r=8", AllowMultipleArgumentsPerToken = true };
        var flags = new (string Flag, string Key, string Help)[]
        {
            ("--val-data", "val_data", "Validation JSONL"), ("--val-split", "val_split", "Validation fraction of --data"),
            ("--format", "format", "auto|text|prompt_completion|messages"), ("--chat-template", "chat_template", "messages data: a named template of the model, chatml|llama2|llama3|zephyr|plain for models without one, or a .jinja file (default: the model's own)"),
            ("--lr", "lr", "Peak learning rate"), ("--schedule", "schedule", "constant|linear|cosine"), ("--warmup-steps", "warmup_steps", "Warmup steps"),
            ("--epochs", "epochs", "Epochs"), ("--max-steps", "max_steps", "Stop after this many optimizer steps"),
            ("--batch-size", "batch_size", "Micro-batch size"), ("--grad-accum", "grad_accum", "Micro-batches per step"),
            ("--max-seq-len", "max_seq_len", "Truncate sequences to this many tokens"), ("--packing", "packing", "Pack examples into full rows (true|false)"),
            ("--lora-r", "lora.r", "LoRA rank"), ("--lora-alpha", "lora.alpha", "LoRA alpha"), ("--lora-dropout", "lora.dropout", "LoRA dropout"),
            ("--targets", "lora.targets", "Comma-separated modules or all-linear"), ("--rslora", "lora.rslora", "alpha/sqrt(r) scaling (true|false)"),
            ("--full-fine-tune", "full_fine_tune", "Train every weight (true|false)"), ("--weight-decay", "weight_decay", "AdamW weight decay"),
            ("--max-grad-norm", "max_grad_norm", "Global-norm clip"), ("--seed", "seed", "Seed"), ("--eval-every", "eval_every", "Eval every N steps"),
            ("--save-every", "save_every", "Checkpoint every N steps"), ("--keep-last", "keep_last", "Checkpoints to keep"), ("--device", "device", "cpu|cuda (runtime.device)"),
            ("--threads", "runtime.threads", "Intra-op threads per ORT session (0: ORT's choice)"), ("--tf32", "runtime.tf32", "Allow TF32 matmuls on CUDA (true|false, default false)"),
            ("--recompute-attention", "memory.recompute_attention", "Recompute attention probabilities in backward (true|false, default true)"),
            ("--attention-blocks", "memory.attention_blocks", "Query blocks of lowered attention: 1 full (B,H,T,T), N >= 2 blocks of T/N rows (default 1)"),
            ("--loss-chunks", "memory.loss_chunks", "Chunks of the loss along T (default: 8 on cuda for vocab ≥ 16384, else 1)"),
            ("--recompute-logits", "memory.recompute_logits", "Recompute loss-chunk logits in backward (true|false, default false)"),
            ("--weight-views", "memory.weight_views", "Hold frozen weights once (true|false; default: true for fp32 and on cuda, false for 16-bit on cpu; false: ORT's folded copies, ~2x weight memory)"),
        };
        var cmd = new Command("train", "Fine-tune a model with LoRA (or fully) on a JSONL dataset") { config, model, data, output, resume, set };
        var flagOptions = flags.Select(f => (f.Key, Option: new Option<string?>(f.Flag) { Description = f.Help })).ToList();
        foreach (var (_, o) in flagOptions)
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            Trainer trainer;
            var reporter = new TrainReporter();
            if (r.GetValue(resume) is { } runDir)
            {
                trainer = Trainer.Resume(runDir, reporter);
            }
            else
            {
                var overrides = new List<KeyValuePair<string, string>>();
                void Add(string key, string? value)
                {
                    if (value is not null)
                    {
                        overrides.Add(new(key, value));
                    }
                }
                Add("model", r.GetValue(model));
                Add("data", r.GetValue(data));
                Add("output", r.GetValue(output));
                foreach (var (key, o) in flagOptions)
                {
                    Add(key, r.GetValue(o));
                }
                foreach (var kv in r.GetValue(set) ?? [])
                {
                    var parts = kv.Split('=', 2);
                    if (parts.Length != 2)
                    {
                        throw new BadInputException($"--set '{kv}' must look like key=value");
                    }
                    Add(parts[0], parts[1]);
                }
                var cfg = TrainConfigLoader.Load(r.GetValue(config), overrides, new TrainConfig { Runtime = RuntimeEnvironment.Defaults() });
                trainer = new Trainer(cfg, cfg.Output ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)), reporter);
            }
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cts.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                cts.Cancel();
            });
            try
            {
                var summary = trainer.Run(cts.Token);
                reporter.Finish();
                TrainReporter.PrintSummary(summary);
                return summary.Completed ? 0 : CliErrors.Interrupted;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }));
        return cmd;
    }
}
