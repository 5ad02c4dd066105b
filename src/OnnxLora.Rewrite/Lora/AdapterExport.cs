// Converts a PEFT adapter into an .onnx_adapter for an adapter-ready model. Parameters keep PEFT's
// names (they are the ready model's input names) but are stored in the inference layout "t":
//   lora_A as Aᵀ (in,r) and lora_B as scaling·Bᵀ (r,out),
// so the ready graph needs no Transpose and no Mul per token. It does not read or write PEFT files.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public static class AdapterExport
{
    /// <summary>Layout tag stored in the ready model's metadata: A as (in,r), B as scaled (r,out).</summary>
    public const string Layout = "t";

    public static void WriteOnnxAdapter(PeftAdapter adapter, string path)
    {
        var parameters = new List<OnnxAdapterWriter.Parameter>();
        foreach (var (name, (data, shape)) in adapter.Tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (shape.Length != 2)
            {
                throw new ArgumentException($"adapter tensor '{name}' has rank {shape.Length}, expected a 2-D LoRA matrix");
            }
            int rows = checked((int)shape[0]), cols = checked((int)shape[1]);
            var values = data;
            if (name.EndsWith(".lora_B.weight", StringComparison.Ordinal))
            {
                // B (out,r): rank is its second dimension.
                float scaling = (float)(adapter.Settings.UseRsLora ? adapter.Settings.Alpha / Math.Sqrt(cols) : adapter.Settings.Alpha / cols);
                values = new float[data.Length];
                TensorPrimitives.Multiply(data, scaling, values);
            }
            var transposed = Transpose(values, rows, cols); // (cols,rows)
            parameters.Add(new OnnxAdapterWriter.Parameter(name, ElementType.Float, [cols, rows],
                MemoryMarshal.AsBytes(transposed.AsSpan()).ToArray()));
        }
        OnnxAdapterWriter.Write(path, parameters);
    }

    // m (rows,cols) row-major → (cols,rows).
    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
            {
                t[(j * rows) + i] = m[(i * cols) + j];
            }
        }
        return t;
    }
}
