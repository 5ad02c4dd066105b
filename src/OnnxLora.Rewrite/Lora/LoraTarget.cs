// One injected adapter: the frozen weight it rides on and the names of its A (r,in) and B (out,r).
namespace OnnxLora.Rewrite.Lora;

public sealed record LoraTarget(string Module, string Weight, string A, string B, long In, long Out, int Rank, double Scaling)
{
    /// <summary>The linear layer (storage, column slice) it rides on; null only for targets made by hand in tests.</summary>
    public LinearLayer? Linear { get; init; }

    /// <summary>The layer, or an error naming the module when the target was not made from a graph.</summary>
    public LinearLayer Layer => Linear ?? throw new InvalidOperationException($"LoRA target {Module} carries no linear layer");
}
