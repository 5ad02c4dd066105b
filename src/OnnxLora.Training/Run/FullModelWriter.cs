// Writes the result of a full fine-tune as a complete GenAI folder: the base graph with every
// trained weight replaced (rounded once to the base dtype), other files copied. Atomic output.
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Run;

public static class FullModelWriter
{
    public static void Save(string baseDir, IReadOnlyDictionary<string, float[]> weights, string outDir)
    {
        var model = ModelReader.Load(Path.Combine(baseDir, "model.onnx"));
        foreach (var (name, values) in weights)
        {
            if (!model.Graph.Initializers.TryGetValue(name, out var old))
            {
                throw new InvalidDataException($"trained weight '{name}' is not an initializer of {baseDir}");
            }
            var bytes = new byte[values.Length * old.Type.SizeInBytes()];
            ElementConversion.FromFloat32(old.Type, values, bytes);
            model.Graph.Initializers[name] = new Initializer(name, old.Type, old.Dims, TensorData.FromBytes(bytes));
        }
        var temp = AtomicFolder.CreateTempBeside(outDir);
        try
        {
            ModelWriter.Save(model, Path.Combine(temp, "model.onnx"));
            foreach (var f in HfImporter.TokenizerFiles.Append("genai_config.json").Append("config.json"))
            {
                var src = Path.Combine(baseDir, f);
                if (File.Exists(src))
                {
                    File.Copy(src, Path.Combine(temp, f));
                }
            }
            AtomicFolder.Replace(temp, outDir);
        }
        catch
        {
            AtomicFolder.TryDelete(temp);
            throw;
        }
    }
}
