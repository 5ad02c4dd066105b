// The shared fixture in the layouts other exporters write, made once per test class: model-builder folders
// (BuilderLayout, following the builder's source) and the committed torch.onnx exports (tests/data/torch-onnx,
// made by tools/torch-ref/export_onnx.py with torch 1.13).
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Tests.Exporters;

public sealed class ExporterFolders : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly Dictionary<string, string> _made = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public static string TorchExport(string name) => Path.Combine(TestPaths.RepoRoot, "tests", "data", "torch-onnx", name);

    public static string LeftPadReference => Path.Combine(TestPaths.RepoRoot, "tests", "data", "left-pad", "reference_positions_arange.safetensors");

    public string PackedFp32 => Builder("packed-fp32", new BuilderOptions());

    public string PackedFp16 => Builder("packed-fp16", new BuilderOptions { Precision = ElementType.Float16 });

    public string PackedBf16 => Builder("packed-bf16", new BuilderOptions { Precision = ElementType.BFloat16 });

    /// <summary>RotaryEmbedding nodes fed by a position_ids input, GroupQueryAttention with do_rotary=0 (use_rope_in_attn=false).</summary>
    public string SeparateRotary => Builder("separate-rotary", new BuilderOptions { PackedQkv = false, FusedRotary = false });

    /// <summary>filename=decoder.onnx: only genai_config.json says where the decoder is.</summary>
    public string OtherDecoderFile => Builder("decoder-file", new BuilderOptions { Filename = "decoder.onnx" });

    public string PackedWithBias => Builder("packed-bias", new BuilderOptions { QkvBias = true });

    public string SeparateWithBias => Builder("separate-bias", new BuilderOptions { QkvBias = true, PackedQkv = false });

    /// <summary>The fixture with tie_word_embeddings=true (lm_head reads the embedding), as a HF checkpoint.</summary>
    public string TiedCheckpoint => Make("tied-hf", dir => BuilderLayout.WriteTiedCheckpoint(Fixture.Base, dir));

    /// <summary>The tied checkpoint through the builder with shared_embeddings=true (its default for tied models).</summary>
    public string TiedShared => Make("tied-builder", dir => BuilderLayout.Write(TiedCheckpoint, dir, new BuilderOptions { SharedEmbeddings = true }));

    public string NewPath(string name) => _dir[name + "-" + Guid.NewGuid().ToString("N")[..8]];

    private string Builder(string name, BuilderOptions o) => Make(name, dir => BuilderLayout.Write(Fixture.Base, dir, o));

    private string Make(string name, Func<string, string> make)
    {
        lock (_lock)
        {
            if (!_made.TryGetValue(name, out var dir))
            {
                _made[name] = dir = make(_dir[name]);
            }
            return dir;
        }
    }

    public void Dispose() => _dir.Dispose();
}
