// Derives the training (or eval) graph from a model (GenAI/builder layout or a torch.onnx export) by rewriting it:
// lower → inject LoRA (or lift all weights to inputs) → HF causal-LM loss → gradients → wide int4 heads in column groups.
// The frozen base weights stay initializers in the base model's side file; nothing is copied.
using OnnxLora.Autodiff;
using OnnxLora.Autodiff.Loss;
using OnnxLora.Models;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Training.Artifacts;

public sealed record TrainingGraph(Model Model, IReadOnlyList<TrainableParameter> Parameters, IReadOnlyList<LoraTarget> Targets,
    IReadOnlyDictionary<string, string> Gradients, ElementType ComputeType)
{
    public static TrainingGraph Build(Model model, TrainingGraphOptions o)
    {
        // Activations (and the LoRA branch) run in the embedding's dtype; the loss reads the logits as declared
        // (the builder's bf16 graphs cast them to fp32 at the end).
        var computeType = TrainingLowering.ComputeType(model);
        var logitsType = TrainingLowering.LogitsType(model);
        var logits = TrainingLowering.LogitsOutput(model.Graph);
        TrainingLowering.Run(model, o.AttentionBlocks);
        var g = model.Graph;
        IReadOnlyList<LoraTarget> targets = [];
        var parameters = new List<TrainableParameter>();
        if (o.FullFineTune)
        {
            foreach (var init in g.Initializers.Values.Where(IsWeight).ToList())
            {
                parameters.Add(new TrainableParameter(init.Name, init.Dims, init));
                g.Initializers.Remove(init.Name);
                g.Inputs.Add(Graph.MakeValueInfo(init.Name, init.Type, init.Dims.Select(d => (Dim)d).ToArray()));
            }
        }
        else if (o.Lora is { } lora)
        {
            (_, targets) = LoraInjection.Run(model, lora, o.Training, computeType);
            foreach (var t in targets)
            {
                parameters.Add(new TrainableParameter(t.A, [t.Rank, t.In], null));
                parameters.Add(new TrainableParameter(t.B, [t.Out, t.Rank], null));
            }
        }
        int chunks = o.OutputLogits ? 1 : o.LossChunks ?? CausalLmLoss.DefaultChunks(VocabSize(g, logits), gpu: o.Device == Device.Cuda);
        var loss = CausalLmLoss.Add(g, logits, logitsType: logitsType, chunks: chunks, recomputeLogits: o.RecomputeLogits);
        var logitsInfo = g.Outputs.First(x => x.Name == logits);
        g.Outputs.Clear();
        g.Outputs.Add(Graph.MakeValueInfo(loss, ElementType.Float));
        if (o.OutputLogits && logits == GenAiNames.Logits)
        {
            g.Outputs.Add(logitsInfo);
        }
        else if (o.OutputLogits)
        {
            // An export that calls its logits otherwise: ours are always "logits".
            g.AddNode(new Node("Identity", g.UniqueName("/logits/Identity"), [logits], [GenAiNames.Logits]));
            logitsInfo.Name = GenAiNames.Logits;
            g.Outputs.Add(logitsInfo);
        }
        IReadOnlyDictionary<string, string> grads = new Dictionary<string, string>();
        if (o.Training)
        {
            if (parameters.Count == 0)
            {
                throw new BadInputException("a training graph needs LoRA settings or full fine-tuning");
            }
            grads = GradientBuilder.AddGradients(model, loss, parameters.Select(p => p.Name).ToList(), new GradientOptions
            {
                AddOutputs = true,
                LowPrecision = computeType != ElementType.Float,
                LossScaleInput = o.LossScaling ? TrainingGraphOptions.LossScaleInput : null,
                Recompute = o.Recompute ? Recomputation.IsMarked : null,
                WeightTransposeViews = o.WeightViewsFor(computeType),
            });
        }
        // After the loss (which may copy an int4 head per chunk) and the gradients: no forward MatMulNBits dequantizes
        // more than Int4GroupBytes at once, while each dX still reads the whole weight in its own ordered chunks
        // (MatMulNBitsGradient), so the column groups add no gradient slices alive at once.
        Int4ColumnSplit.Run(model, o.Int4GroupBytes);
        CausalLmLoss.LowerForRuntime(g);
        g.RemoveDeadNodes();
        return new TrainingGraph(model, parameters, targets, grads, computeType);
    }

    private static long VocabSize(Graph g, string logits) =>
        g.Outputs.FirstOrDefault(x => x.Name == logits) is { } info && Graph.TypeOf(info).Shape is { Length: 3 } s && s[2].Value is { } v ? v : 0;

    private static bool IsWeight(Initializer i) =>
        i.Type.IsFloating() && i.Name != GenAiNames.CosCache && i.Name != GenAiNames.SinCache && !i.Name.StartsWith("const", StringComparison.Ordinal);
}
