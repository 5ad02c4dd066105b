// A Hugging Face LlamaForCausalLM config.json, parsed and validated. It accepts both rope
// spellings (top-level rope_theta + rope_scaling, and transformers-5 rope_parameters) and
// rejects what the GenAI Llama layout cannot express (biases, other model types).
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxLora.Models;

public sealed record LlamaConfig
{
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }

    /// <summary>"float32", "float16" or "bfloat16" as the checkpoint declares (torch_dtype / dtype).</summary>
    public string TorchDtype { get; init; } = "float32";

    public static LlamaConfig Load(string configPath)
    {
        if (!File.Exists(configPath))
        {
            throw new ModelFormatException($"{configPath}: config.json not found");
        }
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                ?? throw new ModelFormatException($"{configPath}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{configPath}:{e.LineNumber + 1}: invalid JSON ({e.Message})");
        }
        return Parse(root, configPath);
    }

    public static LlamaConfig Parse(JsonObject root, string source)
    {
        var modelType = root["model_type"]?.GetValue<string>();
        if (modelType != "llama")
        {
            throw new ModelFormatException($"{source}: model_type is '{modelType ?? "(missing)"}', only 'llama' is supported");
        }
        if (root["attention_bias"]?.GetValue<bool>() == true || root["mlp_bias"]?.GetValue<bool>() == true)
        {
            throw new ModelFormatException($"{source}: attention_bias/mlp_bias are not supported by the GenAI Llama layout");
        }
        int Req(string key)
        {
            var v = root[key] ?? throw new ModelFormatException($"{source}: missing required key '{key}'");
            int value = v.GetValue<int>();
            if (value <= 0)
            {
                throw new ModelFormatException($"{source}: '{key}' must be positive, got {value}");
            }
            return value;
        }
        int hidden = Req("hidden_size");
        int heads = Req("num_attention_heads");
        int kvHeads = root["num_key_value_heads"] is { } kv ? kv.GetValue<int>() : heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
        {
            throw new ModelFormatException($"{source}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        }
        int headDim = root["head_dim"] is { } hd && hd.GetValueKind() == JsonValueKind.Number ? hd.GetValue<int>() : hidden / heads;
        if (headDim % 2 != 0)
        {
            throw new ModelFormatException($"{source}: head_dim {headDim} must be even for rotary embeddings");
        }

        double theta = 10000.0;
        JsonObject? scaling = root["rope_scaling"] as JsonObject;
        if (root["rope_parameters"] is JsonObject rp)
        {
            theta = rp["rope_theta"]?.GetValue<double>() ?? theta;
            if (rp["rope_type"]?.GetValue<string>() is { } t && t != "default")
            {
                scaling = rp;
            }
        }
        if (root["rope_theta"] is { } rt)
        {
            theta = rt.GetValue<double>();
        }

        return new LlamaConfig
        {
            VocabSize = Req("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Req("intermediate_size"),
            NumHiddenLayers = Req("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            MaxPositionEmbeddings = root["max_position_embeddings"]?.GetValue<int>() ?? 2048,
            RmsNormEps = root["rms_norm_eps"]?.GetValue<double>() ?? 1e-6,
            RopeTheta = theta,
            RopeScaling = scaling is null ? null : RopeScaling.Parse(scaling, source),
            TieWordEmbeddings = root["tie_word_embeddings"]?.GetValue<bool>() ?? false,
            BosTokenId = IntOrNull(root["bos_token_id"]),
            EosTokenIds = root["eos_token_id"] switch
            {
                JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
                JsonValue v when v.GetValueKind() == JsonValueKind.Number => [v.GetValue<int>()],
                _ => [],
            },
            PadTokenId = IntOrNull(root["pad_token_id"]),
            TorchDtype = (root["torch_dtype"] ?? root["dtype"])?.GetValue<string>() ?? "float32",
        };
    }

    private static int? IntOrNull(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<int>() : null;

    /// <summary>Writes the config back in transformers' spelling (used by init-model and merge).</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["hidden_act"] = "silu",
            ["torch_dtype"] = TorchDtype,
        };
        if (BosTokenId is { } b)
        {
            o["bos_token_id"] = b;
        }
        if (EosTokenIds.Length == 1)
        {
            o["eos_token_id"] = EosTokenIds[0];
        }
        else if (EosTokenIds.Length > 1)
        {
            o["eos_token_id"] = new JsonArray(EosTokenIds.Select(x => (JsonNode)x).ToArray());
        }
        if (PadTokenId is { } p)
        {
            o["pad_token_id"] = p;
        }
        if (RopeScaling is { } s)
        {
            o["rope_scaling"] = s.ToJson();
        }
        return o;
    }
}
