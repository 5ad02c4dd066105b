// Resolves what a user passes as --model: an ONNX model folder (GenAI/builder: the decoder genai_config.json
// names; a torch.onnx/optimum export: model.onnx or its only .onnx file) or an .onnx file is used as is; a
// Hugging Face folder (config.json + safetensors, no .onnx) is imported into a temp folder first.
using OnnxLora.Models;
using OnnxLora.Models.Import;

namespace OnnxLora.Training;

public sealed class ModelSource : IDisposable
{
    private readonly string? _temp;

    private ModelSource(string onnxDir, string decoderFile, string? temp)
    {
        OnnxDir = onnxDir;
        DecoderFile = decoderFile;
        _temp = temp;
    }

    /// <summary>Folder holding the decoder (+ data, genai_config.json or config.json, tokenizer files).</summary>
    public string OnnxDir { get; }

    /// <summary>The decoder's file name inside <see cref="OnnxDir"/>.</summary>
    public string DecoderFile { get; }

    public string ModelPath => Path.Combine(OnnxDir, DecoderFile);

    public static ModelSource Resolve(string path, IProgress<string>? progress = null)
    {
        if (File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return new ModelSource(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path), null);
        }
        if (!Directory.Exists(path))
        {
            throw new ModelFormatException($"{path}: model folder not found");
        }
        if (File.Exists(Path.Combine(path, GenAiFolder.GenAiConfigFile)) || Directory.EnumerateFiles(path, "*.onnx").Any())
        {
            var folder = GenAiFolder.Open(path);
            return new ModelSource(folder.Dir, folder.DecoderFile, null);
        }
        if (!File.Exists(Path.Combine(path, "config.json")))
        {
            throw new ModelFormatException($"{path}: neither an .onnx model nor config.json found (expected an ONNX/GenAI folder or a Hugging Face checkpoint)");
        }
        var temp = Path.Combine(Path.GetTempPath(), "onnxlora-import-" + Guid.NewGuid().ToString("N")[..12]);
        var onnxDir = Path.Combine(temp, "model");
        try
        {
            HfImporter.Import(path, onnxDir, progress: progress);
        }
        catch
        {
            AtomicFolder.TryDelete(temp);
            throw;
        }
        return new ModelSource(onnxDir, GenAiFolder.DefaultDecoderFile, temp);
    }

    public void Dispose()
    {
        if (_temp is not null)
        {
            AtomicFolder.TryDelete(_temp);
        }
    }
}
