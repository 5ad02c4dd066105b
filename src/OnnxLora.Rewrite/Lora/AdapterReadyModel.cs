// The "adapter-ready" inference model: the user's graph (GenAI/builder or torch.onnx; KV cache kept) with
// LoRA injected at scaling 1, whose Aᵀ (in,r) / Bᵀ (r,out) are graph inputs WITH zero default initializers
// (ORT overridable initializers) in the model's activation dtype, pre-transposed so a decode step runs only
// MatMul, MatMul, Add per adapter; projections that read the same input share one branch and one
// concatenated base MatMul (SharedInputLoraFusion), slices of a packed qkv_proj one branch on it.
// Without an adapter it equals the base; an .onnx_adapter (B pre-scaled, same grouping) switches it.
// It does not hold adapter values; AdapterExport writes those. The folder is written by GenAiFolder.
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public static class AdapterReadyModel
{
    /// <summary>Writes a complete GenAI folder to <paramref name="outDir"/>; returns the injected targets.</summary>
    public static IReadOnlyList<LoraTarget> Build(string onnxDir, LoraSettings settings, string outDir)
    {
        var folder = GenAiFolder.Open(onnxDir);
        var model = folder.LoadDecoder();
        // Scaling is folded into the adapter file's B, so one ready model serves adapters of any alpha.
        var unit = settings with { Alpha = settings.Rank, UseRsLora = false, Dropout = 0 };
        var dtype = Passes.TrainingLowering.ComputeType(model);
        var (_, targets) = LoraInjection.Run(model, unit, training: false, computeType: dtype, transposed: true);
        var (_, groups) = SharedInputLoraFusion.Run(model, targets);
        foreach (var group in groups)
        {
            foreach (var name in new[] { group.A, group.B })
            {
                var type = Graph.TypeOf(model.Graph.FindInput(name)!);
                model.Graph.AddInitializer(Zeros(name, type.Element, type.Shape[0].Value!.Value, type.Shape[1].Value!.Value)); // Aᵀ (in,r), Bᵀ (r,out)
            }
        }
        model.SetMetadata("onnxlora.adapter_ready", "rank=" + settings.Rank + ";layout=" + AdapterExport.Layout + ";dtype=" + dtype.OnnxName());
        folder.Write(model, outDir, temp => QuietOverridableWarnings(Path.Combine(temp, "genai_config.json")));
        return targets;
    }

    // ORT warns once per A/B that an initializer is also an input; that is the point here, so GenAI's
    // session logs only errors (log_severity_level 3). Other settings in the file stay as they are.
    private static void QuietOverridableWarnings(string genaiConfig)
    {
        if (!File.Exists(genaiConfig))
        {
            return;
        }
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(genaiConfig))!.AsObject();
        if (root["model"]?["decoder"] is System.Text.Json.Nodes.JsonObject decoder)
        {
            var so = decoder["session_options"] as System.Text.Json.Nodes.JsonObject ?? [];
            decoder["session_options"] = so;
            so["log_severity_level"] ??= 3;
            File.WriteAllText(genaiConfig, root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        }
    }

    private static Initializer Zeros(string name, ElementType type, long rows, long cols) =>
        new(name, type, [rows, cols], TensorData.FromBytes(new byte[rows * cols * type.SizeInBytes()]));
}
