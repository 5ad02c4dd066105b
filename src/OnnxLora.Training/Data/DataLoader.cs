// Hands out batches epoch after epoch in a seeded order (SplitMix64; identity order when shuffle is off).
// Its State (epoch, position, PRNG state at the epoch's start) can be saved and restored for exact resume.
// The last batch of an epoch may be smaller; an epoch never spans two orders.
using OnnxLora.Onnx;

namespace OnnxLora.Training.Data;

public sealed class DataLoader
{
    private readonly int _rowCount;
    private readonly Func<int[], TokenBatch> _build;
    private readonly bool _shuffle;
    private readonly SplitMix64 _rng;
    private int[] _order = [];
    private ulong _epochRngState;

    private DataLoader(int rowCount, Func<int[], TokenBatch> build, int batchSize, ulong seed, bool shuffle)
    {
        if (rowCount == 0)
        {
            throw new ArgumentException("a data loader needs at least one row");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _rowCount = rowCount;
        _build = build;
        _shuffle = shuffle;
        BatchSize = batchSize;
        _rng = new SplitMix64(seed);
        StartEpoch(0);
    }

    public int BatchSize { get; }

    public int Epoch { get; private set; }

    /// <summary>Rows of the current epoch already handed out.</summary>
    public int Position { get; private set; }

    public int BatchesPerEpoch => (_rowCount + BatchSize - 1) / BatchSize;

    public DataLoaderState State => new(Epoch, Position, _epochRngState);

    public static DataLoader ForExamples(
        IReadOnlyList<TokenizedExample> rows, int batchSize, long padId, ulong seed, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return new DataLoader(rows.Count, idx => BatchBuilder.Build(idx.Select(i => rows[i]).ToList(), padId),
            batchSize, seed, shuffle);
    }

    public static DataLoader ForPacked(
        IReadOnlyList<PackedSequence> rows, int batchSize, long padId, ulong seed, bool shuffle = true)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return new DataLoader(rows.Count, idx => BatchBuilder.Build(idx.Select(i => rows[i]).ToList(), padId),
            batchSize, seed, shuffle);
    }

    /// <summary>The row indices of the next batch; moves to the next epoch after the last one.</summary>
    public int[] NextIndices()
    {
        if (Position >= _rowCount)
        {
            StartEpoch(Epoch + 1);
        }
        int n = Math.Min(BatchSize, _rowCount - Position);
        int[] indices = _order.AsSpan(Position, n).ToArray();
        Position += n;
        return indices;
    }

    public TokenBatch Next() => _build(NextIndices());

    /// <summary>Continues exactly where a loader with the same rows, batch size and seed stood.</summary>
    public void Restore(DataLoaderState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Epoch < 0 || state.Position < 0 || state.Position > _rowCount)
        {
            throw new BadInputException(
                $"data loader state (epoch {state.Epoch}, position {state.Position}) does not fit {_rowCount} rows");
        }
        _rng.State = state.RngState;
        StartEpoch(state.Epoch);
        Position = state.Position;
    }

    private void StartEpoch(int epoch)
    {
        _epochRngState = _rng.State;
        _order = Enumerable.Range(0, _rowCount).ToArray();
        if (_shuffle)
        {
            _rng.Shuffle(_order);
        }
        Epoch = epoch;
        Position = 0;
    }
}
