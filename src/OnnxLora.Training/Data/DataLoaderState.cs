// Where a DataLoader stands: the epoch, the rows of that epoch already handed out, and the PRNG state the
// epoch's order was drawn from. Restoring it reproduces the remaining batches exactly (bit-identical resume).
namespace OnnxLora.Training.Data;

public sealed record DataLoaderState(int Epoch, int Position, ulong RngState);
