// Search settings of one generation, as GenAI's search options name them.
namespace OnnxLora.Inference;

public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Suppresses EOS until this many new tokens exist (benchmarks decode a fixed count).</summary>
    public int MinNewTokens { get; init; }

    /// <summary>0 (default) means greedy decoding.</summary>
    public double Temperature { get; init; }

    public int TopK { get; init; } = 50;

    public double TopP { get; init; } = 1.0;

    public int? Seed { get; init; }

    /// <summary>Name of a loaded adapter to activate, or null for the plain model.</summary>
    public string? Adapter { get; init; }

    public bool DoSample => Temperature > 0;
}
