// Resolves what a user passes as --model: an ORT GenAI / ONNX folder (model.onnx inside) is used
// as is; a Hugging Face folder (config.json + safetensors) is imported into a temp folder first.
using OnnxLora.Models;
using OnnxLora.Models.Import;

namespace OnnxLora.Training;

public sealed class ModelSource : IDisposable
{
    private readonly string? _temp;

    private ModelSource(string onnxDir, string? temp)
    {
        OnnxDir = onnxDir;
        _temp = temp;
    }

    /// <summary>Folder holding model.onnx (+ data, genai_config.json, tokenizer files).</summary>
    public string OnnxDir { get; }

    public string ModelPath => Path.Combine(OnnxDir, "model.onnx");

    public static ModelSource Resolve(string path, IProgress<string>? progress = null)
    {
        if (File.Exists(path) && path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return new ModelSource(Path.GetDirectoryName(Path.GetFullPath(path))!, null);
        }
        if (!Directory.Exists(path))
        {
            throw new ModelFormatException($"{path}: model folder not found");
        }
        if (File.Exists(Path.Combine(path, "model.onnx")))
        {
            return new ModelSource(Path.GetFullPath(path), null);
        }
        if (!File.Exists(Path.Combine(path, "config.json")))
        {
            throw new ModelFormatException($"{path}: neither model.onnx nor config.json found (expected an ONNX/GenAI folder or a Hugging Face checkpoint)");
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
        return new ModelSource(onnxDir, temp);
    }

    public void Dispose()
    {
        if (_temp is not null)
        {
            AtomicFolder.TryDelete(_temp);
        }
    }
}
