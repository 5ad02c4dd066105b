// How an adaptable linear layer stores its frozen weight W and reads it. LoRA injection, fold/unfold,
// base hashing and adapter export branch on this, never on initializer names.
namespace OnnxLora.Rewrite.Lora;

public enum WeightLayout
{
    /// <summary>MatMul(x, W), W an initializer stored [in, out] (model builder, our import, torch.onnx's folded onnx::MatMul_N).</summary>
    InOut,

    /// <summary>MatMul(x, Transpose(W)), W stored [out, in] as Hugging Face keeps it (torch.onnx without constant folding).</summary>
    OutInTransposed,

    /// <summary>Gemm(x, W, C) with transB=1: W stored [out, in] (torch.onnx's Linear with bias on a 2-D input).</summary>
    GemmOutIn,

    /// <summary>Gemm(x, W, C) with transB=0: W stored [in, out].</summary>
    GemmInOut,

    /// <summary>
    /// com.microsoft MatMulNBits(x, W_Q4, scales[, zero_points]): W int4 in the builder's blocks (`-p int4`), read through
    /// MatMulNBitsWeight (OnnxLora.Onnx.Quantization); LinearLayer.Weight is the float name the builder quantized
    /// from (the codes' name without "_Q4").
    /// </summary>
    Int4,
}
