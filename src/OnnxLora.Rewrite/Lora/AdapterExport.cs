// Converts a PEFT adapter into an .onnx_adapter for an adapter-ready model, in the inference layout "t":
//   a single module keeps PEFT's names, lora_A stored as Aᵀ (in,r) and lora_B as scaling·Bᵀ (r,out);
//   a LoraGroup (q/k/v, gate/up of one layer) is one pair: A_g = [A₁ᵀ|…] (in,Σr), B_g = blockdiag(sᵢ·Bᵢᵀ) (Σr,Σout),
// so the ready graph needs no Transpose, Mul or per-module branch at decode time. It writes no PEFT files.
using System.Runtime.InteropServices;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Rewrite.Lora;

public static class AdapterExport
{
    /// <summary>Layout tag stored in the ready model's metadata: A as (in,r), B as scaled (r,out), shared-input groups fused.</summary>
    public const string Layout = "t-grouped";

    public static void WriteOnnxAdapter(PeftAdapter adapter, string path)
    {
        var modules = adapter.Tensors.Keys.Select(k => Peft.TryParseA(k, out var m) ? m : null).OfType<string>()
            .Order(StringComparer.Ordinal).ToList();
        var parameters = new List<OnnxAdapterWriter.Parameter>();
        foreach (var group in LoraGroup.Of(modules))
        {
            var members = group.Modules.Select(m => Member(adapter, m)).ToList();
            long inF = members[0].In, sumR = members.Sum(m => (long)m.Rank), sumOut = members.Sum(m => m.Out);
            if (members.Any(m => m.In != inF))
            {
                throw new ArgumentException($"adapter modules of {group.Name} have different input sizes");
            }
            var a = new float[inF * sumR];   // (in,Σr)
            var b = new float[sumR * sumOut]; // (Σr,Σout), block diagonal
            long r0 = 0, o0 = 0;
            foreach (var m in members)
            {
                for (int c = 0; c < m.Rank; c++)
                {
                    for (long i = 0; i < inF; i++)
                    {
                        a[(i * sumR) + r0 + c] = m.A[(c * inF) + i];
                    }
                    for (long o = 0; o < m.Out; o++)
                    {
                        b[((r0 + c) * sumOut) + o0 + o] = m.Scaling * m.B[(o * m.Rank) + c];
                    }
                }
                r0 += m.Rank;
                o0 += m.Out;
            }
            parameters.Add(new OnnxAdapterWriter.Parameter(group.A, ElementType.Float, [inF, sumR], MemoryMarshal.AsBytes(a.AsSpan()).ToArray()));
            parameters.Add(new OnnxAdapterWriter.Parameter(group.B, ElementType.Float, [sumR, sumOut], MemoryMarshal.AsBytes(b.AsSpan()).ToArray()));
        }
        OnnxAdapterWriter.Write(path, parameters);
    }

    private sealed record Module(float[] A, float[] B, int Rank, long In, long Out, float Scaling);

    // A (r,in), B (out,r) of one PEFT module, with its scaling.
    private static Module Member(PeftAdapter adapter, string module)
    {
        var (a, aShape) = adapter.Tensors[Peft.A(module)];
        if (!adapter.Tensors.TryGetValue(Peft.B(module), out var b))
        {
            throw new ArgumentException($"adapter has '{Peft.A(module)}' but no '{Peft.B(module)}'");
        }
        if (aShape.Length != 2 || b.Shape.Length != 2 || b.Shape[1] != aShape[0])
        {
            throw new ArgumentException($"adapter module '{module}': A [{string.Join(",", aShape)}] and B [{string.Join(",", b.Shape)}] are not (r,in) and (out,r)");
        }
        int rank = checked((int)aShape[0]);
        return new Module(a, b.Data, rank, aShape[1], b.Shape[0], (float)adapter.Settings.ScalingAt(rank));
    }
}
