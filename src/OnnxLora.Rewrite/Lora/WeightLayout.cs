// How an adaptable linear layer stores its frozen weight W and reads it. LoRA injection, fold/unfold,
// base hashing and adapter export branch on this, never on initializer names.
// Issue 13 adds the int4 form (MatMulNBits: W as `<w>_Q4` + scales) as one more value here.
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
}
