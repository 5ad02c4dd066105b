// `onnxlora import`: a Hugging Face LlamaForCausalLM folder → an ORT GenAI folder
// (model.onnx + model.onnx.data, genai_config.json, tokenizer files). Weights stream one
// matrix at a time from safetensors into the side file; the output appears atomically
// (GenAiFolder.Publish). It does not quantize, and leaves garbage collection to the runtime.
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Models.Import;

public static class HfImporter
{
    public static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "chat_template.jinja"];

    /// <summary>Imports <paramref name="hfDir"/> into <paramref name="outDir"/>; returns the config used.</summary>
    public static LlamaConfig Import(string hfDir, string outDir, ElementType? dtype = null, IProgress<string>? progress = null)
    {
        if (!Directory.Exists(hfDir))
        {
            throw new ModelFormatException($"{hfDir}: folder not found");
        }
        var config = LlamaConfig.Load(Path.Combine(hfDir, "config.json"));
        using var source = SafetensorsWeightSource.Open(hfDir);
        var target = dtype ?? DTypes.Parse(config.TorchDtype);
        var mapping = HfWeightMap.Build(config, source);

        int done = 0;
        var total = mapping.Count;
        using var scratch = new ImportScratch();
        var model = GenAiLlamaGraph.Build(config, target, (name, shape) =>
        {
            var m = mapping[name];
            long bytes = Initializer.ElementCount(shape) * target.SizeInBytes();
            return new Initializer(name, target, shape, TensorData.FromGenerator(bytes, stream =>
            {
                progress?.Report($"[{++done}/{total}] {m.Source} → {name}");
                m.WriteTo(source, target, stream, scratch);
            }));
        });
        model.SetMetadata("onnxlora.source", Path.GetFullPath(hfDir));
        GenAiFolder.Publish(outDir, GenAiFolder.DefaultDecoderFile, model, temp =>
        {
            GenAiConfigWriter.Write(Path.Combine(temp, "genai_config.json"), config, GenAiFolder.DefaultDecoderFile);
            File.WriteAllText(Path.Combine(temp, "config.json"), config.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            foreach (var f in TokenizerFiles)
            {
                var src = Path.Combine(hfDir, f);
                if (File.Exists(src))
                {
                    File.Copy(src, Path.Combine(temp, f));
                }
            }
        });
        return config;
    }
}
