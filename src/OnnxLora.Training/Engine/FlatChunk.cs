// One piece of a flat segment that the chunked optimizer updates in one run.
namespace OnnxLora.Training.Engine;

/// <param name="Name">The norm graph's name for it (its gradient input is Name_grad).</param>
/// <param name="Segment">Index of the segment it lies in.</param>
/// <param name="Offset">First element within the segment.</param>
/// <param name="Length">Elements (at most the chunk size).</param>
public sealed record FlatChunk(string Name, int Segment, long Offset, long Length);
