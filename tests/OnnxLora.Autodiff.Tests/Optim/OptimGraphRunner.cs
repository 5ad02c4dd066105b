// Test helper: saves an IR model with ModelWriter to a temp folder, opens it in a CPU
// InferenceSession from the path, and runs it on managed arrays. Not a trainer: it copies.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Autodiff.Tests.Optim;

internal sealed class OptimGraphRunner : IDisposable
{
    private readonly string _dir;
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;

    public OptimGraphRunner(Model model)
    {
        _dir = Path.Combine(Path.GetTempPath(), "onnxlora-optim-" + Guid.NewGuid().ToString("N"));
        var path = Path.Combine(_dir, "model.onnx");
        ModelWriter.Save(model, path);
        _options = new SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(path, _options);
    }

    public IReadOnlyList<string> OutputNames => _session.OutputNames;

    /// <summary>Inputs are float[], long[] or a boxed scalar (float/long) with its shape; outputs come back as float[] or bool[].</summary>
    public Dictionary<string, Array> Run(IReadOnlyDictionary<string, (Array Data, long[] Shape)> inputs)
    {
        var names = inputs.Keys.ToArray();
        var values = new List<OrtValue>(names.Length);
        try
        {
            foreach (var name in names)
            {
                var (data, shape) = inputs[name];
                values.Add(data switch
                {
                    float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
                    long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
                    _ => throw new ArgumentException($"input '{name}': unsupported array {data.GetType().Name}"),
                });
            }
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, names, values, _session.OutputNames);
            var result = new Dictionary<string, Array>(StringComparer.Ordinal);
            for (int i = 0; i < outputs.Count; i++)
            {
                var value = outputs[i];
                result[_session.OutputNames[i]] = value.GetTensorTypeAndShape().ElementDataType switch
                {
                    TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
                    TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
                    var t => throw new InvalidDataException($"output '{_session.OutputNames[i]}' is {t}"),
                };
            }
            return result;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
