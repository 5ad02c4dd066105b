// Carves a validation split out of one dataset: a seeded shuffle of the indices, the first round(n·fraction)
// (at least one when fraction > 0) become validation. Both parts keep the file order of their examples.
using OnnxLora.Onnx;

namespace OnnxLora.Training.Data;

public static class DatasetSplitter
{
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation) Split<T>(
        IReadOnlyList<T> items, double fraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!(fraction >= 0 && fraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "val_split must be in [0, 1)");
        }
        if (fraction == 0)
        {
            return (items, []);
        }
        int valCount = Math.Max(1, (int)Math.Round(items.Count * fraction, MidpointRounding.AwayFromZero));
        if (valCount >= items.Count)
        {
            throw new BadInputException(
                $"val_split {fraction} of {items.Count} examples leaves no training examples");
        }
        int[] order = Enumerable.Range(0, items.Count).ToArray();
        new SplitMix64(seed ^ 0x5EED5EED5EED5EEDUL).Shuffle(order);
        var isVal = new bool[items.Count];
        foreach (int i in order.Take(valCount))
        {
            isVal[i] = true;
        }
        var train = new List<T>(items.Count - valCount);
        var val = new List<T>(valCount);
        for (int i = 0; i < items.Count; i++)
        {
            (isVal[i] ? val : train).Add(items[i]);
        }
        return (train, val);
    }
}
