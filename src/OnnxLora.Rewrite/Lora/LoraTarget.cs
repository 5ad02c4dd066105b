// One injected adapter: the frozen weight it rides on and the names of its A (r,in) and B (out,r).
namespace OnnxLora.Rewrite.Lora;

public sealed record LoraTarget(string Module, string Weight, string A, string B, long In, long Out, int Rank, double Scaling);
