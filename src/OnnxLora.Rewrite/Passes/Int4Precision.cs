// Int4 linears in a training graph: every com.microsoft MatMulNBits is checked (MatMulNBitsWeight: 4 bits,
// the builder's unprepacked layout) and set to accuracy_level 0, so ORT computes A·dequant(B) in the activation
// type (fp32 on CPU) exactly as the dequantized-weight reference does. accuracy_level 4, the builder's CPU
// default, lets ORT quantize A to int8 per block (3.6e-3…6.1e-3 logit error on the fixture, tools/torch-ref);
// that is an inference setting the deployed model keeps, never inherited by training. The op stays
// MatMulNBits: the weight stays int4 in memory; its dX is MatMulNBitsGradient. GatherBlockQuantized
// (a quantized shared embedding) stays as it is: no gradient flows into token ids.
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Quantization;

namespace OnnxLora.Rewrite.Passes;

public static class Int4Precision
{
    /// <summary>com.microsoft ops a training graph keeps: forward-only, with CPU and CUDA kernels in ORT.</summary>
    public static readonly HashSet<string> KeptContribOps = [MatMulNBits.OpType, "GatherBlockQuantized"];

    public static PassResult Run(Model model)
    {
        bool modified = false;
        foreach (var n in model.Graph.Nodes.Where(MatMulNBits.Is))
        {
            MatMulNBitsWeight.Read(model.Graph, n, "model");
            int i = n.Proto.Attribute.ToList().FindIndex(a => a.Name == "accuracy_level");
            if (i >= 0)
            {
                n.Proto.Attribute.RemoveAt(i);
                modified = true;
            }
        }
        foreach (var n in model.Graph.Nodes.Where(n => n.OpType == "GatherBlockQuantized" && n.Domain == Model.MicrosoftDomain))
        {
            if (n.GetInt("bits", 4) != 4)
            {
                throw new RewriteException($"{n}: bits={n.GetInt("bits", 4)} is not supported (only 4-bit quantized embeddings)");
            }
        }
        return new PassResult(model, modified);
    }
}
