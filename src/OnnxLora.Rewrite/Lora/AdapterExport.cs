// Converts a PEFT adapter into an .onnx_adapter for the adapter-ready model of a base, in the inference layout "t":
//   a single module keeps PEFT's names, lora_A stored as Aᵀ (in,r) and lora_B as scaling·Bᵀ (r,out);
//   a LoraGroup (q/k/v, gate/up of one layer) is one pair: A_g = [A₁ᵀ|…] (in,Σr), B_g (Σr,N) with each scaled
//   Bᵢᵀ in its rows and at its columns: consecutive for separate weights (N = Σout), at the slice's own columns
//   for a packed weight (N = the packed width; untargeted slices stay 0).
// Values are written in the base's activation dtype (fp16/bf16 bases take fp16/bf16 adapters: no Cast per token).
// The layout comes from LinearDiscovery on the base, as the ready model's does. It writes no PEFT files.
using OnnxLora.Models;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Lora;

public static class AdapterExport
{
    /// <summary>Layout tag stored in the ready model's metadata: A as (in,r), B as scaled (r,out), shared-input groups fused.</summary>
    public const string Layout = "t-grouped";

    /// <summary>Writes the adapter for the ready model of the base in <paramref name="modelDir"/>; returns the targets.</summary>
    public static IReadOnlyList<LoraTarget> WriteOnnxAdapter(PeftAdapter adapter, string modelDir, string path, string source = "adapter")
    {
        var model = GenAiFolder.Open(modelDir).LoadDecoder();
        var targets = AdapterTargets.Resolve(model.Graph, adapter, source);
        LoraFold.CheckBase(model.Graph, adapter, targets, source);
        WriteOnnxAdapter(adapter, targets, TrainingLowering.ComputeType(model), path);
        return targets;
    }

    public static void WriteOnnxAdapter(PeftAdapter adapter, IReadOnlyList<LoraTarget> targets, ElementType dtype, string path)
    {
        var byModule = targets.ToDictionary(t => t.Module, StringComparer.Ordinal);
        var parameters = new List<OnnxAdapterWriter.Parameter>();
        foreach (var group in LoraGroup.Of(targets.Select(t => t.Module).Order(StringComparer.Ordinal)))
        {
            var members = group.Modules.Select(m => byModule[m]).ToList();
            var layers = members.Select(m => m.Layer).ToList();
            bool packed = layers.All(l => l.IsSlice) && layers.Select(l => l.Node).Distinct().Count() == 1;
            long inF = members[0].In, sumR = members.Sum(m => (long)m.Rank);
            long width = packed ? layers[0].Columns : members.Sum(m => m.Out);
            if (members.Any(m => m.In != inF))
            {
                throw new BadInputException($"adapter modules of {group.Name} have different input sizes");
            }
            var a = new float[inF * sumR];  // (in,Σr)
            var b = new float[sumR * width]; // (Σr,N)
            long r0 = 0, o0 = 0;
            foreach (var t in members)
            {
                var (aData, bData) = (adapter.Tensors[t.A].Data, adapter.Tensors[t.B].Data); // A (r,in), B (out,r)
                long column = packed ? t.Layer.Offset : o0;
                float s = (float)t.Scaling;
                for (int c = 0; c < t.Rank; c++)
                {
                    for (long i = 0; i < inF; i++)
                    {
                        a[(i * sumR) + r0 + c] = aData[(c * inF) + i];
                    }
                    for (long o = 0; o < t.Out; o++)
                    {
                        b[((r0 + c) * width) + column + o] = s * bData[(o * t.Rank) + c];
                    }
                }
                r0 += t.Rank;
                o0 += t.Out;
            }
            parameters.Add(new OnnxAdapterWriter.Parameter(group.A, dtype, [inF, sumR], Bytes(a, dtype)));
            parameters.Add(new OnnxAdapterWriter.Parameter(group.B, dtype, [sumR, width], Bytes(b, dtype)));
        }
        OnnxAdapterWriter.Write(path, parameters);
    }

    private static byte[] Bytes(float[] values, ElementType dtype)
    {
        var bytes = new byte[values.Length * dtype.SizeInBytes()];
        ElementConversion.FromFloat32(dtype, values, bytes);
        return bytes;
    }
}
