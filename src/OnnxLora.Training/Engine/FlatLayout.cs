// How the device engine lays trainable parameters end to end: consecutive parameters share one flat
// float32 segment (≤ 2^28 values, 1 GiB) and the training graph sees each through a view, so the
// optimizer graph runs a handful of kernels per segment instead of ~20 per parameter. A parameter
// too big for a segment (a full-fine-tune embedding) is a segment of its own, in its own shape.
// The artifacts' flat optimizer graphs and DeviceStepEngine both derive the layout from here.
using OnnxLora.Autodiff.Optim;
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
    public const long MaxSegmentElements = 1L << 28;

    public static IReadOnlyList<FlatSegment> Of(IReadOnlyList<TrainableParameter> parameters) => Of(parameters, MaxSegmentElements);

    internal static IReadOnlyList<FlatSegment> Of(IReadOnlyList<TrainableParameter> parameters, long maxSegmentElements)
    {
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

    public static IReadOnlyList<ParameterSpec> Specs(IReadOnlyList<TrainableParameter> parameters) =>
        Of(parameters).Select(s => new ParameterSpec(s.Name, s.Shape)).ToList();
}
