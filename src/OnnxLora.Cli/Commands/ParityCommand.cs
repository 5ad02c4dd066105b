// `onnxlora parity`: run a reference batch through our graphs and compare with transformers/PEFT;
// with --compare it also lists every reference tensor it left uncompared and every output without a reference.
using System.CommandLine;
using System.Globalization;
using OnnxLora.Onnx;
using OnnxLora.Training.Parity;

namespace OnnxLora.Cli.Commands;

internal static class ParityCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "ONNX model folder (GenAI/builder or torch.onnx export) or .onnx file, or a Hugging Face folder (imported to a temp dir first)", Required = true };
        var batch = new Option<string>("--batch") { Description = "safetensors with input_ids, attention_mask, labels (and reference tensors)", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "Write our tensors to this safetensors file" };
        var adapter = new Option<string?>("--adapter") { Description = "PEFT adapter folder: adds lora.logits, lora.loss and grad.<name>" };
        var trajectory = new Option<string?>("--trajectory") { Description = "trajectory.json: run its AdamW steps from the adapter and report trajectory.losses" };
        var compare = new Option<bool>("--compare") { Description = "Print max abs errors against same-named tensors in the batch file, and list the tensors left uncompared" };
        var refKey = new Option<string[]>("--reference-key") { Description = "ours=theirs, e.g. base.logits=merged.logits; when given, only these pairs are compared", AllowMultipleArgumentsPerToken = true };
        var lossChunks = new Option<int?>("--loss-chunks") { Description = "Trajectory: chunks of the loss along T (default: 8 on cuda for vocabularies ≥ 16384, else 1)" };
        var recomputeLogits = new Option<bool>("--recompute-logits") { Description = "Trajectory: recompute each loss chunk's logits in backward" };
        var lossScale = new Option<float?>("--loss-scale") { Description = "Trajectory: dynamic loss scaling from this initial scale (fp16 bases, e.g. 1024)" };
        var attentionBlocks = new Option<int>("--attention-blocks") { Description = "Query blocks of the lowered attention in every graph (1: full (B,H,T,T); N >= 2: blocks of T/N rows)", DefaultValueFactory = _ => 1 };
        var cmd = new Command("parity", "Prove that our ONNX graphs compute what transformers/PEFT compute")
            { model, batch, output, adapter, trajectory, compare, refKey, lossChunks, recomputeLogits, lossScale, attentionBlocks };
        var runtime = RuntimeArgs.AddTo(cmd);
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var keys = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var kv in r.GetValue(refKey) ?? [])
            {
                var parts = kv.Split('=', 2);
                if (parts.Length != 2)
                {
                    throw new BadInputException($"--reference-key '{kv}' must look like ours=theirs");
                }
                keys[parts[0]] = parts[1];
            }
            var result = ParityRunner.Run(new ParityOptions
            {
                Model = r.GetValue(model)!,
                Batch = r.GetValue(batch)!,
                Output = r.GetValue(output),
                Adapter = r.GetValue(adapter),
                Trajectory = r.GetValue(trajectory),
                ReferenceKeys = keys,
                Runtime = runtime.Resolve(r),
                LossChunks = r.GetValue(lossChunks) is { } k and < 1
                    ? throw new BadInputException($"--loss-chunks must be ≥ 1, got {k}")
                    : r.GetValue(lossChunks),
                RecomputeLogits = r.GetValue(recomputeLogits),
                AttentionBlocks = r.GetValue(attentionBlocks) is var ab and < 1
                    ? throw new BadInputException($"--attention-blocks must be ≥ 1, got {ab}")
                    : r.GetValue(attentionBlocks),
                LossScale = r.GetValue(lossScale) is { } ls and (<= 0 or float.NaN)
                    ? throw new BadInputException($"--loss-scale must be > 0, got {ls}")
                    : r.GetValue(lossScale),
            }, new SyncProgress(m => Console.Error.WriteLine("  " + m)));
            foreach (var (name, (data, shape)) in result.Outputs.OrderBy(k => k.Key, StringComparer.Ordinal))
            {
                if (shape.Length == 0)
                {
                    Console.WriteLine($"{name} = {data[0].ToString("R", CultureInfo.InvariantCulture)}");
                }
            }
            if (!r.GetValue(compare))
            {
                return 0;
            }
            bool ok = true;
            bool half = result.ComputeType != Onnx.Ir.ElementType.Float;
            if (half)
            {
                Console.WriteLine($"{Onnx.Ir.ElementTypeExtensions.OnnxName(result.ComputeType)} model: limits for 16-bit activations against the fp32 reference");
            }
            foreach (var c in result.Comparisons)
            {
                var (limit, measured) = Limit(c, half);
                bool pass = measured <= limit;
                ok &= pass;
                Console.WriteLine(FormattableString.Invariant(
                    $"{(pass ? "PASS" : "FAIL")}  {c.Name,-70} max|Δ| {c.MaxAbs:E2}  rel {c.Relative:E2}  (limit {limit:E0}{(IsGrad(c) ? " rel" : "")})"));
            }
            // Nothing is skipped silently: a reference answer we did not check, or an answer of ours with no reference.
            foreach (var g in result.NotCompared)
            {
                Console.WriteLine($"not compared: {g.Name} ({g.Reason})");
            }
            foreach (var g in result.NoReference)
            {
                Console.WriteLine($"no reference: {g.Name} ({g.Reason})");
            }
            if (result.Comparisons.Count == 0)
            {
                Console.WriteLine("no reference tensors with matching names in the batch file");
            }
            return ok ? 0 : CliErrors.CheckFailed;
        }));
        return cmd;
    }

    private static bool IsGrad(ParityComparison c) => c.Name.StartsWith("grad.", StringComparison.Ordinal);

    private static (double Limit, double Measured) Limit(ParityComparison c, bool half)
    {
        var t = half ? ParityTolerances.Fp16 : ParityTolerances.Fp32;
        return c.Name switch
        {
            _ when IsGrad(c) => (t.GradientRelative, c.Relative),
            _ when c.Name.EndsWith(".loss", StringComparison.Ordinal) => (t.Loss, c.MaxAbs),
            "trajectory.losses" => (t.Trajectory, c.MaxAbs),
            _ => (t.Logits, c.MaxAbs),
        };
    }
}
