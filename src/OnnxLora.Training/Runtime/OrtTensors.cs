// Small conversions between managed arrays and ORT values (CPU memory).
// Hot loops keep OrtValues resident instead; these are for batches, parity and checkpoints.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxLora.Training.Runtime;

public static class OrtTensors
{
    public static OrtValue Float(float[] data, params long[] shape) => OrtValue.CreateTensorValueFromMemory(data, shape);

    public static OrtValue Int64(long[] data, params long[] shape) => OrtValue.CreateTensorValueFromMemory(data, shape);

    public static float[] ToFloats(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        if (info.ElementDataType == TensorElementType.Float)
        {
            return v.GetTensorDataAsSpan<float>().ToArray();
        }
        if (info.ElementDataType == TensorElementType.Float16)
        {
            var h = v.GetTensorDataAsSpan<Float16>();
            var r = new float[h.Length];
            for (int i = 0; i < r.Length; i++)
            {
                r[i] = (float)h[i].ToFloat();
            }
            return r;
        }
        if (info.ElementDataType == TensorElementType.BFloat16)
        {
            var h = v.GetTensorDataAsSpan<BFloat16>();
            var r = new float[h.Length];
            for (int i = 0; i < r.Length; i++)
            {
                r[i] = h[i].ToFloat();
            }
            return r;
        }
        throw new InvalidDataException($"expected a float tensor, got {info.ElementDataType}");
    }

    public static long[] Shape(OrtValue v) => v.GetTensorTypeAndShape().Shape;
}
