// Test access to the independent int4 reference (tests/data/int4, tools/torch-ref/int4_ref.py) and to the fixture's
// float weights in the builder's [in,out] layout under the builder's names.
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Onnx.Tests.Quantization;

internal static class Int4Reference
{
    public const string Synthetic = "synthetic.k40.weight";

    public static string Folder => Path.Combine(TestPaths.RepoRoot, "tests", "data", "int4");

    public static string Quantized(bool symmetric, bool fp16 = false) =>
        Path.Combine(Folder, $"quantized_{(symmetric ? "sym" : "asym")}{(fp16 ? "_fp16" : "")}.safetensors");

    /// <summary>Builder weight name → HF module, for every projection and lm_head of the fixture.</summary>
    public static IEnumerable<(string Builder, string Hf)> Weights()
    {
        yield return ("lm_head.MatMul.weight", "lm_head.weight");
        for (int i = 0; i < 2; i++)
        {
            foreach (var p in new[] { "q_proj", "k_proj", "v_proj", "o_proj" })
            {
                yield return ($"model.layers.{i}.attn.{p}.MatMul.weight", $"model.layers.{i}.self_attn.{p}.weight");
            }
            foreach (var p in new[] { "gate_proj", "up_proj", "down_proj" })
            {
                yield return ($"model.layers.{i}.mlp.{p}.MatMul.weight", $"model.layers.{i}.mlp.{p}.weight");
            }
        }
    }

    /// <summary>HF weight(s) (N,K) concatenated along N and transposed to the builder's (K,N).</summary>
    public static (float[] W, int K, int N) BuilderWeight(SafetensorsFile model, params string[] hfNames)
    {
        var parts = hfNames.Select(n => (Data: model.ReadAsFloat32(n), Shape: model.GetInfo(n).Shape)).ToList();
        int k = checked((int)parts[0].Shape[1]);
        int n = parts.Sum(p => checked((int)p.Shape[0]));
        var w = new float[k * n];
        int row = 0;
        foreach (var (data, shape) in parts)
        {
            for (int r = 0; r < shape[0]; r++, row++)
            {
                for (int c = 0; c < k; c++)
                {
                    w[(c * n) + row] = data[(r * k) + c];
                }
            }
        }
        return (w, k, n);
    }
}
