// rope_scaling of a Llama config. Only "llama3" (Llama 3.1/3.2) and "linear" change the
// frequencies here; other types are rejected by name rather than silently ignored.
using System.Text.Json.Nodes;

namespace OnnxLora.Models;

public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings)
{
    public static RopeScaling Parse(JsonObject o, string source)
    {
        var type = (o["rope_type"] ?? o["type"])?.GetValue<string>() ?? "default";
        if (type is not ("llama3" or "linear" or "default"))
        {
            throw new ModelFormatException($"{source}: rope_scaling type '{type}' is not supported (llama3, linear)");
        }
        return new RopeScaling(
            type,
            o["factor"]?.GetValue<double>() ?? 1.0,
            o["low_freq_factor"]?.GetValue<double>() ?? 1.0,
            o["high_freq_factor"]?.GetValue<double>() ?? 4.0,
            o["original_max_position_embeddings"]?.GetValue<int>() ?? 8192);
    }

    public JsonObject ToJson() => new()
    {
        ["rope_type"] = Type,
        ["factor"] = Factor,
        ["low_freq_factor"] = LowFreqFactor,
        ["high_freq_factor"] = HighFreqFactor,
        ["original_max_position_embeddings"] = OriginalMaxPositionEmbeddings,
    };
}
