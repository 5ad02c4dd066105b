// IWeightSource over a (possibly sharded) safetensors checkpoint, memory-mapped.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Models.Import;

public sealed class SafetensorsWeightSource : IWeightSource, IDisposable
{
    private readonly SafetensorsCheckpoint _checkpoint;

    private SafetensorsWeightSource(SafetensorsCheckpoint checkpoint) => _checkpoint = checkpoint;

    public static SafetensorsWeightSource Open(string dir)
    {
        bool any = File.Exists(Path.Combine(dir, "model.safetensors"))
            || File.Exists(Path.Combine(dir, "model.safetensors.index.json"));
        if (!any)
        {
            throw new ModelFormatException($"{dir}: no model.safetensors or model.safetensors.index.json");
        }
        try
        {
            return new SafetensorsWeightSource(SafetensorsCheckpoint.Open(dir));
        }
        catch (SafetensorsFormatException e)
        {
            throw new ModelFormatException(e.Message);
        }
    }

    public bool Contains(string name) => _checkpoint.Contains(name);

    public long[] Shape(string name) => _checkpoint.GetInfo(name).Shape;

    public ElementType ElementType(string name) => _checkpoint.GetInfo(name).DType.ToElementType();

    public void ReadFloat32(string name, long offset, Span<float> destination)
    {
        try
        {
            _checkpoint.CopyAsFloat32(name, offset, destination);
        }
        catch (SafetensorsFormatException e)
        {
            throw new ModelFormatException(e.Message);
        }
    }

    public void Dispose() => _checkpoint.Dispose();
}
