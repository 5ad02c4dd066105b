// Padding, packing, splitting, shuffling determinism and exact DataLoader resume.
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Tests.Data;

public sealed class BatchingTests
{
    private const long I = TokenizedExample.IgnoreIndex;

    private static TokenizedExample Ex(params long[] ids) => new(ids, ids.Select((x, i) => i == 0 ? I : x).ToArray());

    [Fact]
    public void BatchBuilderPadsRightToLongest()
    {
        var b = BatchBuilder.Build([Ex(5, 6, 7), Ex(8)], padId: 0);
        Assert.Equal((2, 3), (b.B, b.T));
        Assert.Equal([5, 6, 7, 8, 0, 0], b.InputIds);
        Assert.Equal([1, 1, 1, 1, 0, 0], b.AttentionMask);
        Assert.Equal([I, 6, 7, I, I, I], b.Labels);
    }

    [Fact]
    public void PackerKeepsSegmentsAndMasksBoundaries()
    {
        var rows = SequencePacker.Pack([Ex(1, 2, 3), Ex(4, 5), Ex(6, 7, 8)], maxSeqLen: 6, padId: 0);
        Assert.Equal(2, rows.Count);
        Assert.Equal([1, 2, 3, 4, 5, 0], rows[0].InputIds);
        Assert.Equal([1, 1, 1, 2, 2, 0], rows[0].AttentionMask);
        Assert.Equal([I, 2, 3, I, 5, I], rows[0].Labels);
        Assert.Equal(2, rows[0].Segments);
        Assert.Equal([6, 7, 8, 0, 0, 0], rows[1].InputIds);
        var batch = BatchBuilder.Build(rows, padId: 0);
        Assert.Equal((2, 6), (batch.B, batch.T));
    }

    [Fact]
    public void SplitMix64MatchesReferenceSequence()
    {
        // Reference values of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.Next());
    }

    [Fact]
    public void SplitIsDeterministicAndDisjoint()
    {
        int[] items = Enumerable.Range(0, 100).ToArray();
        var (train, val) = DatasetSplitter.Split(items, 0.1, seed: 7);
        var (train2, val2) = DatasetSplitter.Split(items, 0.1, seed: 7);
        var (_, val3) = DatasetSplitter.Split(items, 0.1, seed: 8);
        Assert.Equal(10, val.Count);
        Assert.Equal(90, train.Count);
        Assert.Equal(val, val2);
        Assert.Equal(train, train2);
        Assert.NotEqual(val, val3);
        Assert.Empty(train.Intersect(val));
    }

    [Fact]
    public void ShuffleIsDeterministicPerSeedAndCoversEveryRow()
    {
        var rows = Enumerable.Range(0, 10).Select(i => Ex(i + 1, i + 1)).ToList();
        int[] Epoch(ulong seed)
        {
            var loader = DataLoader.ForExamples(rows, 3, 0, seed);
            return Enumerable.Range(0, loader.BatchesPerEpoch).SelectMany(_ => loader.NextIndices()).ToArray();
        }
        Assert.Equal(Epoch(1), Epoch(1));
        Assert.NotEqual(Epoch(1), Epoch(2));
        Assert.Equal(Enumerable.Range(0, 10), Epoch(1).Order());
    }

    [Fact]
    public void LoaderStateRoundTripReproducesRemainingBatches()
    {
        var rows = Enumerable.Range(0, 7).Select(i => Ex(i + 1, i + 2, i + 3)).ToList();
        var a = DataLoader.ForExamples(rows, 2, 0, seed: 42);
        for (int i = 0; i < 6; i++)
        {
            a.Next(); // into the second epoch (4 batches per epoch)
        }
        DataLoaderState saved = a.State;
        Assert.Equal(1, saved.Epoch);
        var expected = Enumerable.Range(0, 10).Select(_ => a.Next()).ToList();

        var b = DataLoader.ForExamples(rows, 2, 0, seed: 42);
        b.Restore(saved);
        Assert.Equal(saved, b.State);
        foreach (TokenBatch want in expected)
        {
            TokenBatch got = b.Next();
            Assert.Equal(want.InputIds, got.InputIds);
            Assert.Equal(want.Labels, got.Labels);
            Assert.Equal(want.AttentionMask, got.AttentionMask);
        }
        Assert.Equal(a.State, b.State);
    }
}
