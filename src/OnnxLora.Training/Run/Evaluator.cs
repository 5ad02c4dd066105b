// Token-weighted mean loss of the eval graph over a validation set, for given parameter values.
// Perplexity is exp(loss). Batches are built once and reused for every evaluation. Parameters are
// fed from host arrays each call; it keeps no device state between evaluations. On CPU it reads the frozen
// weights through the step engine's SharedWeights when given them, so training and eval hold them once.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Data;
using OnnxLora.Training.Engine;

namespace OnnxLora.Training.Run;

public sealed class Evaluator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RuntimeOptions _runtime;
    private readonly SharedWeights? _ownedWeights;
    private readonly RunOptions _run = new();
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly List<TokenBatch> _batches = [];

    /// <param name="weights">
    /// the frozen weights the step engine reads (SharedWeights), so the two sessions hold them once; null maps them
    /// here when the artifacts' sessions share weights (StepEngine.UsesSharedWeights).
    /// </param>
    public Evaluator(TrainingArtifacts artifacts, IReadOnlyList<TokenizedExample> examples, long padId, int batchSize, RuntimeOptions runtime,
        SharedWeights? weights = null)
        : this(artifacts.EvalModelPath, artifacts.Parameters, examples, padId, batchSize, runtime,
            StepEngine.UsesSharedWeights(artifacts, runtime) ? weights ?? new SharedWeights() : null, ownsWeights: weights is null)
    {
    }

    public Evaluator(string evalModel, IReadOnlyList<TrainableParameter> parameters, IReadOnlyList<TokenizedExample> examples,
        long padId, int batchSize, RuntimeOptions runtime)
        : this(evalModel, parameters, examples, padId, batchSize, runtime, null, ownsWeights: false)
    {
    }

    private Evaluator(string evalModel, IReadOnlyList<TrainableParameter> parameters, IReadOnlyList<TokenizedExample> examples,
        long padId, int batchSize, RuntimeOptions runtime, SharedWeights? weights, bool ownsWeights)
    {
        _runtime = runtime;
        _ownedWeights = ownsWeights ? weights : null;
        _session = SessionFactory.Create(evalModel, runtime, weights);
        _params = parameters;
        for (int i = 0; i < examples.Count; i += batchSize)
        {
            _batches.Add(BatchBuilder.Build(examples.Skip(i).Take(batchSize).ToList(), padId));
        }
    }

    public double Loss(IReadOnlyDictionary<string, float[]> values)
    {
        double sum = 0;
        long count = 0;
        var paramValues = _params.Select(p => OrtValue.CreateTensorValueFromMemory(values[p.Name], p.Shape)).ToList();
        try
        {
            foreach (var tb in _batches)
            {
                using var batch = new BatchTensors(tb.InputIds, tb.AttentionMask, tb.Labels, tb.B, tb.T);
                var names = batch.Names.Concat(_params.Select(p => p.Name)).ToList();
                var inputs = batch.Values.Concat(paramValues).ToList();
                using var r = _session.Run(_run, names, inputs, ["loss"]);
                int n = batch.CountedTokens();
                if (n > 0)
                {
                    sum += r[0].GetTensorDataAsSpan<float>()[0] * (double)n;
                    count += n;
                }
            }
        }
        finally
        {
            paramValues.ForEach(v => v.Dispose());
        }
        return count == 0 ? double.NaN : sum / count;
    }

    public void Dispose()
    {
        _run.Dispose();
        SessionFactory.Release(_session, _runtime);
        _ownedWeights?.Dispose();
    }
}
