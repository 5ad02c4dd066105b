// One optimisation step on ORT: the training session (forward + backward) writes gradients into
// resident buffers, the accumulator graph sums micro-batches, and the AdamW graph writes the new
// parameters and moments into the other half of a ping-pong pair. Parameters, moments and
// gradients stay as OrtValues for the life of the engine; only the loss scalar is read back.
// The two extra gradient buffers that accumulation needs are allocated on the first second
// micro-batch, so a run without accumulation holds 7 parameter-sized copies, not 9.
// It does not schedule the learning rate or load data; the trainer does.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Training.Artifacts;

namespace OnnxLora.Training.Engine;

public sealed class StepEngine : IStepEngine
{
    private readonly InferenceSession _train;
    private readonly InferenceSession _optim;
    private readonly InferenceSession? _accum;
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly RunOptions _run = new();
    // [0]/[1] ping-pong halves: params, exp_avg, exp_avg_sq
    private readonly OrtValue[][] _p, _m, _v;
    private readonly float[][][] _pData, _mData, _vData;
    private readonly OrtValue[] _gradAcc;
    private readonly float[][] _gradAccData;
    // micro-batch gradient and accumulator ping-pong half: null until a second micro-batch arrives
    private OrtValue[]? _grad, _gradAccNext;
    private float[][]? _gradData, _gradAccNextData;
    private readonly float[] _lr = new float[1], _scale = new float[1], _norm = new float[1];
    private readonly long[] _step = new long[1];
    private readonly bool[] _finite = new bool[1];
    private readonly OrtValue _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue;
    private int _cur;
    private int _micro;

    public StepEngine(string trainingModel, string optimizerModel, string? accumulateModel,
        IReadOnlyList<TrainableParameter> parameters, IReadOnlyDictionary<string, float[]> initial, string device = "cpu")
    {
        _params = parameters;
        _train = Runtime.SessionFactory.Create(trainingModel, device);
        _optim = Runtime.SessionFactory.Create(optimizerModel, device);
        _accum = accumulateModel is null ? null : Runtime.SessionFactory.Create(accumulateModel, device);
        int n = parameters.Count;
        _p = [new OrtValue[n], new OrtValue[n]];
        _m = [new OrtValue[n], new OrtValue[n]];
        _v = [new OrtValue[n], new OrtValue[n]];
        _pData = [new float[n][], new float[n][]];
        _mData = [new float[n][], new float[n][]];
        _vData = [new float[n][], new float[n][]];
        _gradAcc = new OrtValue[n];
        _gradAccData = new float[n][];
        for (int i = 0; i < n; i++)
        {
            var shape = parameters[i].Shape;
            long count = parameters[i].ElementCount;
            for (int h = 0; h < 2; h++)
            {
                (_pData[h][i], _p[h][i]) = Alloc(count, shape);
                (_mData[h][i], _m[h][i]) = Alloc(count, shape);
                (_vData[h][i], _v[h][i]) = Alloc(count, shape);
            }
            (_gradAccData[i], _gradAcc[i]) = Alloc(count, shape);
            if (!initial.TryGetValue(parameters[i].Name, out var init) || init.Length != count)
            {
                throw new ArgumentException($"no initial value of {count} elements for parameter '{parameters[i].Name}'");
            }
            init.CopyTo(_pData[0][i], 0);
        }
        _lrValue = OrtValue.CreateTensorValueFromMemory(_lr, []);
        _scaleValue = OrtValue.CreateTensorValueFromMemory(_scale, []);
        _stepValue = OrtValue.CreateTensorValueFromMemory(_step, []);
        _normValue = OrtValue.CreateTensorValueFromMemory(_norm, []);
        _finiteValue = OrtValue.CreateTensorValueFromMemory(_finite, []);
    }

    /// <summary>Optimizer steps taken so far (t of the bias correction).</summary>
    public long StepCount => _step[0];

    public float LastGradNorm => _norm[0];

    public bool LastStepFinite => _finite[0];

    /// <summary>Runs forward + backward on one micro-batch and accumulates its gradients; returns its loss.</summary>
    public float ForwardBackward(BatchTensors batch)
    {
        var names = new List<string>(batch.Names);
        var values = new List<OrtValue>(batch.Values);
        for (int i = 0; i < _params.Count; i++)
        {
            names.Add(_params[i].Name);
            values.Add(_p[_cur][i]);
        }
        var outNames = new List<string> { "loss" };
        using var loss = OrtValue.CreateTensorValueFromMemory(new float[1], []);
        var outValues = new List<OrtValue> { loss };
        var target = _micro == 0 ? _gradAcc : AccumulationBuffers();
        for (int i = 0; i < _params.Count; i++)
        {
            outNames.Add(OptimizerNames.Grad(_params[i].Name));
            outValues.Add(target[i]);
        }
        _train.Run(_run, names, values, outNames, outValues);
        if (_micro > 0)
        {
            Accumulate();
        }
        _micro++;
        return loss.GetTensorDataAsSpan<float>()[0];
    }

    private void Accumulate()
    {
        if (_accum is null)
        {
            throw new InvalidOperationException("gradient accumulation needs the accumulator graph");
        }
        var names = new List<string>();
        var values = new List<OrtValue>();
        var outNames = new List<string>();
        for (int i = 0; i < _params.Count; i++)
        {
            var g = OptimizerNames.Grad(_params[i].Name);
            names.Add(OptimizerNames.GradAccumulator(_params[i].Name));
            values.Add(_gradAcc[i]);
            names.Add(g);
            values.Add(_grad![i]);
            outNames.Add(OptimizerNames.Updated(OptimizerNames.GradAccumulator(_params[i].Name)));
        }
        _accum.Run(_run, names, values, outNames, _gradAccNext!);
        for (int i = 0; i < _params.Count; i++)
        {
            (_gradAcc[i], _gradAccNext![i]) = (_gradAccNext[i], _gradAcc[i]);
            (_gradAccData[i], _gradAccNextData![i]) = (_gradAccNextData[i], _gradAccData[i]);
        }
    }

    /// <summary>The micro-batch gradient buffers (allocated with the accumulator's second half on first use).</summary>
    private OrtValue[] AccumulationBuffers()
    {
        if (_grad is null)
        {
            int n = _params.Count;
            _grad = new OrtValue[n];
            _gradAccNext = new OrtValue[n];
            _gradData = new float[n][];
            _gradAccNextData = new float[n][];
            for (int i = 0; i < n; i++)
            {
                (_gradData[i], _grad[i]) = Alloc(_params[i].ElementCount, _params[i].Shape);
                (_gradAccNextData[i], _gradAccNext[i]) = Alloc(_params[i].ElementCount, _params[i].Shape);
            }
        }
        return _grad;
    }

    /// <summary>Applies AdamW to the accumulated gradients (averaged over micro-batches); returns whether it was applied.</summary>
    public bool OptimizerStep(float learningRate)
    {
        if (_micro == 0)
        {
            throw new InvalidOperationException("OptimizerStep called before any ForwardBackward");
        }
        _lr[0] = learningRate;
        _scale[0] = 1f / _micro;
        _step[0]++;
        int next = 1 - _cur;
        var names = new List<string> { OptimizerNames.LearningRate, OptimizerNames.Step, OptimizerNames.GradScale };
        var values = new List<OrtValue> { _lrValue, _stepValue, _scaleValue };
        var outNames = new List<string> { OptimizerNames.GradNorm, OptimizerNames.GradFinite };
        var outValues = new List<OrtValue> { _normValue, _finiteValue };
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i].Name;
            names.AddRange([p, OptimizerNames.Grad(p), OptimizerNames.ExpAvg(p), OptimizerNames.ExpAvgSq(p)]);
            values.AddRange([_p[_cur][i], _gradAcc[i], _m[_cur][i], _v[_cur][i]]);
            outNames.AddRange([OptimizerNames.Updated(p), OptimizerNames.Updated(OptimizerNames.ExpAvg(p)), OptimizerNames.Updated(OptimizerNames.ExpAvgSq(p))]);
            outValues.AddRange([_p[next][i], _m[next][i], _v[next][i]]);
        }
        _optim.Run(_run, names, values, outNames, outValues);
        _micro = 0;
        if (!_finite[0])
        {
            _step[0]--; // a skipped step does not advance the bias correction (torch's GradScaler skips optimizer.step)
            return false;
        }
        _cur = next;
        return true;
    }

    /// <summary>Copies current parameters out (checkpoints and adapter export; not on the hot path).</summary>
    public Dictionary<string, float[]> Parameters() => Snapshot(_pData[_cur]);

    public (Dictionary<string, float[]> ExpAvg, Dictionary<string, float[]> ExpAvgSq) Moments() =>
        (Snapshot(_mData[_cur]), Snapshot(_vData[_cur]));

    /// <summary>Current accumulated gradients (parity checks).</summary>
    public Dictionary<string, float[]> Gradients() => Snapshot(_gradAccData);

    /// <summary>Restores parameters, moments and the step counter (exact resume).</summary>
    public void Restore(IReadOnlyDictionary<string, float[]> p, IReadOnlyDictionary<string, float[]> m, IReadOnlyDictionary<string, float[]> v, long step)
    {
        for (int i = 0; i < _params.Count; i++)
        {
            var name = _params[i].Name;
            p[name].CopyTo(_pData[_cur][i], 0);
            m[name].CopyTo(_mData[_cur][i], 0);
            v[name].CopyTo(_vData[_cur][i], 0);
        }
        _step[0] = step;
        _micro = 0;
    }

    private Dictionary<string, float[]> Snapshot(float[][] data)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < _params.Count; i++)
        {
            d[_params[i].Name] = (float[])data[i].Clone();
        }
        return d;
    }

    private static (float[] Data, OrtValue Value) Alloc(long count, long[] shape)
    {
        var data = new float[count];
        return (data, OrtValue.CreateTensorValueFromMemory(data, shape));
    }

    public void Dispose()
    {
        foreach (var half in _p.Concat(_m).Concat(_v))
        {
            foreach (var v in half)
            {
                v.Dispose();
            }
        }
        foreach (var v in _gradAcc.Concat(_grad ?? []).Concat(_gradAccNext ?? []))
        {
            v.Dispose();
        }
        _lrValue.Dispose();
        _scaleValue.Dispose();
        _stepValue.Dispose();
        _normValue.Dispose();
        _finiteValue.Dispose();
        _run.Dispose();
        Runtime.SessionFactory.Release(_train);
        Runtime.SessionFactory.Release(_optim);
        Runtime.SessionFactory.Release(_accum);
    }
}
