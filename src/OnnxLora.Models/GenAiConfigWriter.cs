// genai_config.json for a GenAI-layout Llama folder: decoder geometry, I/O names and search defaults.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxLora.Models;

public static class GenAiConfigWriter
{
    public static void Write(string path, LlamaConfig c, string modelFile)
    {
        var eos = c.EosTokenIds.Length switch
        {
            0 => (JsonNode)2,
            1 => c.EosTokenIds[0],
            _ => new JsonArray(c.EosTokenIds.Select(x => (JsonNode)x).ToArray()),
        };
        int context = c.MaxPositionEmbeddings;
        var root = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["bos_token_id"] = c.BosTokenId ?? 1,
                ["context_length"] = context,
                ["decoder"] = new JsonObject
                {
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["filename"] = modelFile,
                    ["head_size"] = c.HeadDim,
                    ["hidden_size"] = c.HiddenSize,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = GenAiNames.InputIds,
                        ["attention_mask"] = GenAiNames.AttentionMask,
                        ["past_key_names"] = "past_key_values.%d.key",
                        ["past_value_names"] = "past_key_values.%d.value",
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = GenAiNames.Logits,
                        ["present_key_names"] = "present.%d.key",
                        ["present_value_names"] = "present.%d.value",
                    },
                    ["num_attention_heads"] = c.NumAttentionHeads,
                    ["num_hidden_layers"] = c.NumHiddenLayers,
                    ["num_key_value_heads"] = c.NumKeyValueHeads,
                },
                ["eos_token_id"] = eos,
                ["pad_token_id"] = c.PadTokenId ?? c.EosTokenIds.FirstOrDefault(2),
                ["type"] = "llama",
                ["vocab_size"] = c.VocabSize,
            },
            ["search"] = new JsonObject
            {
                ["diversity_penalty"] = 0.0,
                ["do_sample"] = false,
                ["early_stopping"] = true,
                ["length_penalty"] = 1.0,
                ["max_length"] = context,
                ["min_length"] = 0,
                ["no_repeat_ngram_size"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = false,
                ["repetition_penalty"] = 1.0,
                ["temperature"] = 1.0,
                ["top_k"] = 1,
                ["top_p"] = 1.0,
            },
        };
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }
}
