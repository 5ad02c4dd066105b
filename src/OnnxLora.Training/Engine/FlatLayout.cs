// How the step engine lays trainable parameters end to end: consecutive parameters share one flat
// float32 segment and the training graph sees each through a view, so the optimizer runs a handful of kernels
// per segment instead of ~20 per parameter. A parameter too big for a segment (most full-fine-tune weights) is
// a segment of its own, in its own shape. The optimizer updates the segments in place, chunk by chunk: chunks
// split segments into pieces of at most a chunk size, so its temporaries stay a few chunks whatever the model.
// Both sizes are recorded in the artifacts; their optimizer graphs and the StepEngine derive the layout from them.
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Engine;

/// <param name="Name">The optimizer graph's parameter name for this segment.</param>
/// <param name="Shape">[N] for a shared segment; the parameter's own shape for a whole one.</param>
/// <param name="Members">(parameter index, element offset) of each parameter in the segment.</param>
public sealed record FlatSegment(string Name, long[] Shape, IReadOnlyList<(int Index, long Offset)> Members)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>True when the segment is one parameter in its own shape (bound directly, no view).</summary>
    public bool IsWhole => Members.Count == 1 && Shape.Length != 1;
}

public static class FlatLayout
{
    /// <summary>The largest shared segment one may ask for (a whole parameter may be bigger: it is a segment of its own).</summary>
    public const long MaxFlatElements = 1L << 28;

    /// <summary>
    /// Largest segment for graphs built for <paramref name="device"/>. The AdamW chain of one segment keeps a few
    /// segment-sized temporaries alive at once (measured: ~3.4× the segment on ORT CPU), so segments are a
    /// memory/kernel-count trade. CPU: 2^18 floats (1 MiB); bench-58m's peak RSS then equals the old per-parameter
    /// optimizer's (LoRA 1,103 vs 1,104 MB; one 1.25 M-value segment cost +16 MB, and a 2^28 one +690 MB in full
    /// fine-tune). CUDA: 2^24 floats (64 MiB), where each kernel launch costs more than a few MB of arena: LoRA of
    /// Llama-3.2-1B stays one segment (~20 kernels instead of ~4,500).
    /// </summary>
    public static long MaxSegmentElementsFor(Device device) => device == Device.Cuda ? 1L << 24 : 1L << 18;

    public static IReadOnlyList<FlatSegment> Of(IReadOnlyList<TrainableParameter> parameters, long maxSegmentElements)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSegmentElements, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxSegmentElements, MaxFlatElements);
        var segments = new List<FlatSegment>();
        var members = new List<(int, long)>();
        long size = 0;
        void Close()
        {
            if (members.Count > 0)
            {
                segments.Add(new FlatSegment($"{OptimizerNames.Flat}{segments.Count}", [size], [.. members]));
                members.Clear();
                size = 0;
            }
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            long n = parameters[i].ElementCount;
            if (n > maxSegmentElements)
            {
                Close();
                segments.Add(new FlatSegment(parameters[i].Name, parameters[i].Shape, [(i, 0)]));
                continue;
            }
            if (size + n > maxSegmentElements)
            {
                Close();
            }
            members.Add((i, size));
            size += n;
        }
        Close();
        return segments;
    }

    /// <summary>
    /// Largest optimizer chunk for graphs built for <paramref name="device"/>. The chunked AdamW holds about 3.4
    /// chunks of temporaries plus a 3-chunk scratch and runs once per chunk. CPU: 2^20 floats (4 MiB; the 58 M
    /// full fine-tune is 56 runs per step); CUDA: 2^24 floats (64 MiB), as its segments, so LoRA of Llama-3.2-1B
    /// stays one run.
    /// </summary>
    public static long ChunkElementsFor(Device device) => device == Device.Cuda ? 1L << 24 : 1L << 20;

    /// <summary>Every segment cut into chunks of at most <paramref name="chunkElements"/>, in segment order.</summary>
    public static IReadOnlyList<FlatChunk> Chunks(IReadOnlyList<FlatSegment> segments, long chunkElements)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkElements, 1);
        var chunks = new List<FlatChunk>();
        for (int k = 0; k < segments.Count; k++)
        {
            long n = segments[k].ElementCount;
            for (long offset = 0; offset < n; offset += chunkElements)
            {
                chunks.Add(new FlatChunk($"{ChunkedOptimizerGraphs.Chunk}{chunks.Count}", k, offset, Math.Min(chunkElements, n - offset)));
            }
        }
        return chunks;
    }

    public static IReadOnlyList<ParameterSpec> Specs(IReadOnlyList<FlatSegment> segments) =>
        segments.Select(s => new ParameterSpec(s.Name, s.Shape)).ToList();

    public static IReadOnlyList<ParameterSpec> Specs(IReadOnlyList<FlatChunk> chunks) =>
        chunks.Select(c => new ParameterSpec(c.Name, [c.Length])).ToList();
}
