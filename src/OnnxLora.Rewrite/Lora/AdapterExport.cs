// Converts a PEFT adapter into an .onnx_adapter for an adapter-ready model: parameters keep PEFT's
// names (they are the ready model's input names), A as is and B multiplied by the adapter's scaling.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public static class AdapterExport
{
    public static void WriteOnnxAdapter(PeftAdapter adapter, string path)
    {
        var parameters = new List<OnnxAdapterWriter.Parameter>();
        foreach (var (name, (data, shape)) in adapter.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var values = data;
            if (name.EndsWith(".lora_B.weight", StringComparison.Ordinal))
            {
                int rank = checked((int)shape[1]);
                float scaling = (float)(adapter.Settings.UseRsLora ? adapter.Settings.Alpha / Math.Sqrt(rank) : adapter.Settings.Alpha / rank);
                values = new float[data.Length];
                TensorPrimitives.Multiply(data, scaling, values);
            }
            parameters.Add(new OnnxAdapterWriter.Parameter(name, ElementType.Float, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        }
        OnnxAdapterWriter.Write(path, parameters);
    }
}
