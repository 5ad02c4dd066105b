// Writes a random-init Hugging Face Llama checkpoint folder (config.json + model.safetensors),
// initialised as transformers does: projections and embeddings N(0, 0.02), RMSNorm weights 1.
// Each tensor draws from its own streams seeded by (seed, name, block of 4M values), so the output is
// deterministic; blocks are generated in parallel and tensors one at a time while the file streams.
// It does not write a tokenizer.
using System.Buffers.Binary;
using System.Text.Json;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Models;

public static class RandomLlama
{
    public const double InitStd = 0.02;

    /// <summary>Preset names understood by <see cref="Preset"/>.</summary>
    public static readonly string[] Presets = ["tiny", "pretrain-8m", "bench-58m", "llama-3.2-1b", "llama-3-8b", "llama-3-70b"];

    /// <summary>Vocabulary of the "pretrain-8m" preset: the BPE tokenizer tools/pretrain learns from its corpus.</summary>
    public const int PretrainVocabSize = 4096;

    /// <summary>
    /// "tiny" (vocab of the embedded tokenizer; quickstart), "pretrain-8m" (the base tools/pretrain pretrains on
    /// 2 CPU cores: 7.9 M parameters, same special-token ids as the embedded tokenizer) or "bench-58m" (benchmarks).
    /// </summary>
    public static LlamaConfig Preset(string name) => name switch
    {
        "tiny" => new LlamaConfig
        {
            VocabSize = Tokenization.EmbeddedTokenizer.VocabSize,
            HiddenSize = 128,
            IntermediateSize = 344,
            NumHiddenLayers = 4,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            HeadDim = 32,
            MaxPositionEmbeddings = 512,
            BosTokenId = Tokenization.EmbeddedTokenizer.BosId,
            EosTokenIds = [Tokenization.EmbeddedTokenizer.EosId],
            PadTokenId = Tokenization.EmbeddedTokenizer.PadId,
        },
        "pretrain-8m" => new LlamaConfig
        {
            VocabSize = PretrainVocabSize,
            HiddenSize = 256,
            IntermediateSize = 688,
            NumHiddenLayers = 8,
            NumAttentionHeads = 8,
            NumKeyValueHeads = 4,
            HeadDim = 32,
            MaxPositionEmbeddings = 1024,
            BosTokenId = Tokenization.ByteLevelBpeWriter.BosId,
            EosTokenIds = [Tokenization.ByteLevelBpeWriter.EosId],
            PadTokenId = Tokenization.ByteLevelBpeWriter.PadId,
        },
        "bench-58m" => new LlamaConfig
        {
            VocabSize = 32000,
            HiddenSize = 512,
            IntermediateSize = 1376,
            NumHiddenLayers = 8,
            NumAttentionHeads = 8,
            NumKeyValueHeads = 8,
            HeadDim = 64,
            MaxPositionEmbeddings = 2048,
            BosTokenId = 1,
            EosTokenIds = [2],
        },
        "llama-3.2-1b" => new LlamaConfig
        {
            VocabSize = 128256,
            HiddenSize = 2048,
            IntermediateSize = 8192,
            NumHiddenLayers = 16,
            NumAttentionHeads = 32,
            NumKeyValueHeads = 8,
            HeadDim = 64,
            MaxPositionEmbeddings = 131072,
            RopeTheta = 500000,
            RopeScaling = new RopeScaling("llama3", 32, 1, 4, 8192),
            TieWordEmbeddings = true,
            BosTokenId = 128000,
            EosTokenIds = [128001],
        },
        "llama-3-8b" => new LlamaConfig
        {
            VocabSize = 128256,
            HiddenSize = 4096,
            IntermediateSize = 14336,
            NumHiddenLayers = 32,
            NumAttentionHeads = 32,
            NumKeyValueHeads = 8,
            HeadDim = 128,
            MaxPositionEmbeddings = 8192,
            RopeTheta = 500000,
            BosTokenId = 128000,
            EosTokenIds = [128001],
        },
        "llama-3-70b" => Preset("llama-3-8b") with
        {
            HiddenSize = 8192,
            IntermediateSize = 28672,
            NumHiddenLayers = 80,
            NumAttentionHeads = 64,
        },
        _ => throw new BadInputException($"unknown preset '{name}' ({string.Join(", ", Presets)})"),
    };

    /// <summary>HF tensor names and torch shapes ([out, in] for projections) of <paramref name="c"/>.</summary>
    public static IEnumerable<(string Name, long[] Shape, bool IsNorm)> TensorShapes(LlamaConfig c)
    {
        long d = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim, f = c.IntermediateSize;
        yield return ("model.embed_tokens.weight", [c.VocabSize, d], false);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            yield return (p + "self_attn.q_proj.weight", [q, d], false);
            yield return (p + "self_attn.k_proj.weight", [kv, d], false);
            yield return (p + "self_attn.v_proj.weight", [kv, d], false);
            yield return (p + "self_attn.o_proj.weight", [d, q], false);
            yield return (p + "mlp.gate_proj.weight", [f, d], false);
            yield return (p + "mlp.up_proj.weight", [f, d], false);
            yield return (p + "mlp.down_proj.weight", [d, f], false);
            yield return (p + "input_layernorm.weight", [d], true);
            yield return (p + "post_attention_layernorm.weight", [d], true);
        }
        yield return ("model.norm.weight", [d], true);
        if (!c.TieWordEmbeddings)
        {
            yield return ("lm_head.weight", [c.VocabSize, d], false);
        }
    }

    /// <summary>Writes config.json and model.safetensors (fp32, or bf16 for big presets) into <paramref name="dir"/>.</summary>
    public static void Write(string dir, LlamaConfig config, int seed, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        if (dtype is not (SafetensorsDType.F32 or SafetensorsDType.BF16))
        {
            throw new BadInputException($"random weights are written as F32 or BF16, not {dtype}");
        }
        Directory.CreateDirectory(dir);
        config = config with { TorchDtype = dtype == SafetensorsDType.BF16 ? "bfloat16" : "float32" }; // what the file holds
        File.WriteAllText(Path.Combine(dir, "config.json"),
            config.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var tensors = TensorShapes(config).Select(t => new SafetensorsStreamedTensor(t.Name, dtype, t.Shape,
            stream => WriteTensor(stream, t.Name, t.Shape, t.IsNorm, seed, dtype)));
        SafetensorsWriter.WriteStreaming(Path.Combine(dir, "model.safetensors"), tensors,
            new Dictionary<string, string> { ["format"] = "pt", ["producer"] = $"onnxlora RandomLlama seed {seed}" });
    }

    /// <summary>Values per independently seeded block: blocks are generated in parallel (an 8B model in seconds, not minutes).</summary>
    private const int BlockSize = 1 << 22;

    private static void WriteTensor(Stream stream, string name, long[] shape, bool isNorm, int seed, SafetensorsDType dtype)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        int size = dtype == SafetensorsDType.F32 ? sizeof(float) : sizeof(ushort);
        int tensorSeed = TensorSeed(seed, name);
        long blocks = (n + BlockSize - 1) / BlockSize;
        int lanes = (int)Math.Min(blocks, Environment.ProcessorCount);
        var buffers = Enumerable.Range(0, lanes).Select(_ => new byte[Math.Min(n, BlockSize) * size]).ToArray(); // a norm needs bytes, not 16 MB
        var lengths = new int[lanes];
        for (long first = 0; first < blocks; first += lanes)
        {
            int count = (int)Math.Min(lanes, blocks - first);
            Parallel.For(0, count, j =>
            {
                long block = first + j;
                lengths[j] = (int)Math.Min(BlockSize, n - block * BlockSize);
                FillBlock(buffers[j], lengths[j], isNorm, dtype, block == 0 ? tensorSeed : BlockSeed(tensorSeed, block));
            });
            for (int j = 0; j < count; j++)
            {
                stream.Write(buffers[j], 0, lengths[j] * size);
            }
        }
    }

    // Block 0 continues the tensor's own seed, so tensors of one block keep the values they always had.
    private static void FillBlock(byte[] bytes, int count, bool isNorm, SafetensorsDType dtype, int blockSeed)
    {
        var rng = new Random(blockSeed);
        for (int i = 0; i < count; i++)
        {
            float v = isNorm ? 1f : (float)(InitStd * Normal(rng));
            if (dtype == SafetensorsDType.F32)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), v);
            }
            else
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * sizeof(ushort)), OnnxLora.Onnx.Ir.ElementConversion.ToBFloat16Bits(BitConverter.SingleToUInt32Bits(v)));
            }
        }
    }

    // the block index's 8 bytes mixed into the tensor's seed
    private static int BlockSeed(int tensorSeed, long block)
    {
        uint h = FnvBasis ^ (uint)tensorSeed;
        for (int k = 0; k < 8; k++)
        {
            h = Fnv(h, (uint)((block >> (8 * k)) & 0xff));
        }
        return (int)(h & 0x7fffffff);
    }

    // Box-Muller on System.Random's seeded (stable across .NET versions) generator.
    private static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    // FNV-1a over the name, mixed with the seed: independent of the order tensors are written in.
    private static int TensorSeed(int seed, string name)
    {
        uint h = FnvBasis ^ (uint)seed;
        foreach (char ch in name)
        {
            h = Fnv(h, ch);
        }
        return (int)(h & 0x7fffffff);
    }

    private const uint FnvBasis = 2166136261u;

    // one FNV-1a step (deterministic across processes, unlike HashCode)
    private static uint Fnv(uint h, uint value) => (h ^ value) * 16777619u;
}
