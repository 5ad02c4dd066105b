// A validated job as stored: kind, model and dataset resolved to real paths under the configured roots,
// the effective training config (snake_case JSON, without model/data/output), and the outputs wanted.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OnnxLora.Worker.Spec;

public sealed record JobSpec
{
    public const string Train = "train";
    public const string Noop = "noop";

    public static readonly IReadOnlyList<string> Kinds = [Train, Noop];
    public static readonly IReadOnlyList<string> OutputNames = ["adapter", "merged", "metrics"];
    public static readonly IReadOnlyList<string> ArchiveFormats = ["tar.gz", "zip"];

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Kind { get; init; } = Train;

    public string? Model { get; init; }

    public string? Dataset { get; init; }

    /// <summary>TrainConfigLoader JSON of the effective config (train jobs).</summary>
    public string? Config { get; init; }

    public IReadOnlyList<string> Outputs { get; init; } = ["adapter", "metrics"];

    public string MergedFormat { get; init; } = "tar.gz";

    /// <summary>How long a noop job pretends to work.</summary>
    public int DurationMs { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static JobSpec FromJson(string json) => JsonSerializer.Deserialize<JobSpec>(json, s_json)
        ?? throw new InvalidDataException("job spec is null");
}
