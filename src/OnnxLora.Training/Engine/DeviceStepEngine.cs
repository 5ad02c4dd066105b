// The step engine with its state in allocator memory — CUDA device memory for device "cuda", ORT's
// CPU allocator for "cpu" — and every run bound through IOBinding. Parameters, AdamW moments and
// gradients are allocated once on the device and never leave it in the loop; each run binds the
// current ping-pong half. Per step the batch (3 int64 tensors) goes up once and the loss, the
// gradient norm and the finite flag (3 scalars) come back. Host copies happen only in
// Parameters/Moments/Gradients/Restore (checkpoints, export, parity).
// It does not schedule the learning rate or load data; the trainer does. Same math as StepEngine.
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Engine;

public sealed class DeviceStepEngine : IStepEngine
{
    private readonly InferenceSession _train;
    private readonly InferenceSession _optim;
    private readonly InferenceSession? _accum;
    private readonly OrtIoBinding _trainBinding, _optimBinding;
    private readonly OrtIoBinding? _accumBinding;
    private readonly DeviceMemory _memory;
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly RunOptions _run = new();
    // [0]/[1] ping-pong halves on the device: params, exp_avg, exp_avg_sq
    private readonly OrtValue[][] _p, _m, _v;
    private readonly OrtValue[] _grad, _gradAcc, _gradAccNext;
    // host scalars: inputs lr / grad_scale / step, outputs loss / grad_norm / finite
    private readonly float[] _lr = new float[1], _scale = new float[1], _norm = new float[1], _loss = new float[1];
    private readonly long[] _step = new long[1];
    private readonly bool[] _finite = new bool[1];
    private readonly OrtValue _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue, _lossValue, _lossScaleValue;
    private readonly float[] _lossScale = [1f];
    private readonly bool _hasLossScaleInput;
    private int _cur;
    private int _micro;

    public DeviceStepEngine(string trainingModel, string optimizerModel, string? accumulateModel,
        IReadOnlyList<TrainableParameter> parameters, IReadOnlyDictionary<string, float[]> initial, string device = "cpu",
        DynamicLossScaler? lossScaler = null)
    {
        _params = parameters;
        _train = SessionFactory.Create(trainingModel, device);
        _optim = SessionFactory.Create(optimizerModel, device);
        _accum = accumulateModel is null ? null : SessionFactory.Create(accumulateModel, device);
        _memory = new DeviceMemory(device, _train);
        _trainBinding = _train.CreateIoBinding();
        _optimBinding = _optim.CreateIoBinding();
        _accumBinding = _accum?.CreateIoBinding();
        int n = parameters.Count;
        _p = [new OrtValue[n], new OrtValue[n]];
        _m = [new OrtValue[n], new OrtValue[n]];
        _v = [new OrtValue[n], new OrtValue[n]];
        _grad = new OrtValue[n];
        _gradAcc = new OrtValue[n];
        _gradAccNext = new OrtValue[n];
        for (int i = 0; i < n; i++)
        {
            var shape = parameters[i].Shape;
            long count = parameters[i].ElementCount;
            if (!initial.TryGetValue(parameters[i].Name, out var init) || init.Length != count)
            {
                throw new ArgumentException($"no initial value of {count} elements for parameter '{parameters[i].Name}'");
            }
            var zeros = new float[count];
            for (int h = 0; h < 2; h++)
            {
                _p[h][i] = Alloc(shape, h == 0 ? init : zeros);
                _m[h][i] = Alloc(shape, zeros);
                _v[h][i] = Alloc(shape, zeros);
            }
            _grad[i] = Alloc(shape, zeros);
            _gradAcc[i] = Alloc(shape, zeros);
            _gradAccNext[i] = Alloc(shape, zeros);
        }
        _lrValue = OrtValue.CreateTensorValueFromMemory(_lr, []);
        _scaleValue = OrtValue.CreateTensorValueFromMemory(_scale, []);
        _stepValue = OrtValue.CreateTensorValueFromMemory(_step, []);
        _normValue = OrtValue.CreateTensorValueFromMemory(_norm, []);
        _finiteValue = OrtValue.CreateTensorValueFromMemory(_finite, []);
        _lossValue = OrtValue.CreateTensorValueFromMemory(_loss, []);
        _lossScaleValue = OrtValue.CreateTensorValueFromMemory(_lossScale, []);
        _hasLossScaleInput = _train.InputMetadata.ContainsKey(TrainingGraphOptions.LossScaleInput);
        if (lossScaler is not null && !_hasLossScaleInput)
        {
            throw new ArgumentException($"a loss scaler needs a training graph built with LossScaling (input '{TrainingGraphOptions.LossScaleInput}')");
        }
        LossScaler = lossScaler ?? (_hasLossScaleInput ? new DynamicLossScaler() : null);
    }

    /// <summary>The dynamic loss scaler when the training graph takes loss_scale (mixed precision), else null.</summary>
    public DynamicLossScaler? LossScaler { get; }

    public string Device => _memory.Device;

    public long StepCount => _step[0];

    public float LastGradNorm => _norm[0];

    public bool LastStepFinite => _finite[0];

    public float ForwardBackward(BatchTensors batch)
    {
        var b = _trainBinding;
        b.ClearBoundInputs();
        b.ClearBoundOutputs();
        for (int k = 0; k < batch.Names.Count; k++)
        {
            b.BindInput(batch.Names[k], batch.Values[k]); // host → device once, by ORT's feed copy
        }
        var target = _micro == 0 ? _gradAcc : _grad;
        for (int i = 0; i < _params.Count; i++)
        {
            b.BindInput(_params[i].Name, _p[_cur][i]);
            b.BindOutput(OptimizerNames.Grad(_params[i].Name), target[i]);
        }
        if (_hasLossScaleInput)
        {
            _lossScale[0] = LossScaler!.Scale; // seeds backward: gradients come out × scale, the loss itself does not
            b.BindInput(TrainingGraphOptions.LossScaleInput, _lossScaleValue);
        }
        b.BindOutput("loss", _lossValue); // the one value read back per micro-batch
        _train.RunWithBinding(_run, b);
        b.SynchronizeBoundOutputs();
        if (_micro > 0)
        {
            Accumulate();
        }
        _micro++;
        return _loss[0];
    }

    private void Accumulate()
    {
        if (_accum is null || _accumBinding is null)
        {
            throw new InvalidOperationException("gradient accumulation needs the accumulator graph");
        }
        var b = _accumBinding;
        b.ClearBoundInputs();
        b.ClearBoundOutputs();
        for (int i = 0; i < _params.Count; i++)
        {
            var acc = OptimizerNames.GradAccumulator(_params[i].Name);
            b.BindInput(acc, _gradAcc[i]);
            b.BindInput(OptimizerNames.Grad(_params[i].Name), _grad[i]);
            b.BindOutput(OptimizerNames.Updated(acc), _gradAccNext[i]);
        }
        _accum.RunWithBinding(_run, b);
        b.SynchronizeBoundOutputs();
        for (int i = 0; i < _params.Count; i++)
        {
            (_gradAcc[i], _gradAccNext[i]) = (_gradAccNext[i], _gradAcc[i]);
        }
    }

    /// <summary>AdamW on the accumulated gradients divided by micro-batches × loss scale; overflowed steps are skipped.</summary>
    public bool OptimizerStep(float learningRate)
    {
        float lossScale = _hasLossScaleInput ? _lossScale[0] : 1f;
        if (_micro == 0)
        {
            throw new InvalidOperationException("OptimizerStep called before any ForwardBackward");
        }
        _lr[0] = learningRate;
        _scale[0] = 1f / (_micro * lossScale);
        _step[0]++;
        int next = 1 - _cur;
        var b = _optimBinding;
        b.ClearBoundInputs();
        b.ClearBoundOutputs();
        b.BindInput(OptimizerNames.LearningRate, _lrValue);
        b.BindInput(OptimizerNames.Step, _stepValue);
        b.BindInput(OptimizerNames.GradScale, _scaleValue);
        b.BindOutput(OptimizerNames.GradNorm, _normValue);
        b.BindOutput(OptimizerNames.GradFinite, _finiteValue);
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i].Name;
            b.BindInput(p, _p[_cur][i]);
            b.BindInput(OptimizerNames.Grad(p), _gradAcc[i]);
            b.BindInput(OptimizerNames.ExpAvg(p), _m[_cur][i]);
            b.BindInput(OptimizerNames.ExpAvgSq(p), _v[_cur][i]);
            b.BindOutput(OptimizerNames.Updated(p), _p[next][i]);
            b.BindOutput(OptimizerNames.Updated(OptimizerNames.ExpAvg(p)), _m[next][i]);
            b.BindOutput(OptimizerNames.Updated(OptimizerNames.ExpAvgSq(p)), _v[next][i]);
        }
        _optim.RunWithBinding(_run, b);
        b.SynchronizeBoundOutputs();
        _micro = 0;
        LossScaler?.Update(_finite[0]);
        if (!_finite[0])
        {
            _step[0]--; // a skipped step does not advance the bias correction (torch's GradScaler skips optimizer.step)
            return false;
        }
        _cur = next;
        return true;
    }

    public Dictionary<string, float[]> Parameters() => Snapshot(_p[_cur]);

    public (Dictionary<string, float[]> ExpAvg, Dictionary<string, float[]> ExpAvgSq) Moments() => (Snapshot(_m[_cur]), Snapshot(_v[_cur]));

    public Dictionary<string, float[]> Gradients() => Snapshot(_gradAcc);

    public void Restore(IReadOnlyDictionary<string, float[]> p, IReadOnlyDictionary<string, float[]> m, IReadOnlyDictionary<string, float[]> v, long step)
    {
        for (int i = 0; i < _params.Count; i++)
        {
            var name = _params[i].Name;
            _memory.Upload(p[name], _p[_cur][i]);
            _memory.Upload(m[name], _m[_cur][i]);
            _memory.Upload(v[name], _v[_cur][i]);
        }
        _step[0] = step;
        _micro = 0;
    }

    private Dictionary<string, float[]> Snapshot(OrtValue[] values)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < _params.Count; i++)
        {
            d[_params[i].Name] = _memory.Download(values[i]);
        }
        return d;
    }

    private OrtValue Alloc(long[] shape, float[] initial)
    {
        var v = _memory.Allocate(TensorElementType.Float, shape);
        _memory.Upload(initial, v);
        return v;
    }

    public void Dispose()
    {
        foreach (var v in _p.Concat(_m).Concat(_v).SelectMany(h => h).Concat(_grad).Concat(_gradAcc).Concat(_gradAccNext))
        {
            v.Dispose();
        }
        foreach (var v in new[] { _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue, _lossValue, _lossScaleValue })
        {
            v.Dispose();
        }
        _trainBinding.Dispose();
        _optimBinding.Dispose();
        _accumBinding?.Dispose();
        _memory.Dispose();
        _run.Dispose();
        _train.Dispose();
        _optim.Dispose();
        _accum?.Dispose();
    }
}
