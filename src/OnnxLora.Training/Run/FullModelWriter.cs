// Writes the result of a full fine-tune as a complete GenAI folder: the base graph with every
// trained weight replaced (rounded once to the base dtype), written by GenAiFolder (its copy rule; atomic).
using OnnxLora.Models;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Run;

public static class FullModelWriter
{
    public static void Save(string baseDir, IReadOnlyDictionary<string, float[]> weights, string outDir)
    {
        var folder = GenAiFolder.Open(baseDir);
        var model = folder.LoadDecoder();
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
        folder.Write(model, outDir);
    }
}
