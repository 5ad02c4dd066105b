// One tensor a parity run left uncompared, and why (e.g. "merged.logits: no merged model given").
namespace OnnxLora.Training.Parity;

public sealed record ParityGap(string Name, string Reason);
