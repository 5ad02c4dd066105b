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
    private readonly IReadOnlyList<FlatSegment> _segments;
    private readonly RunOptions _run = new();
    // per segment: [0]/[1] ping-pong halves of params, exp_avg, exp_avg_sq; gradient, accumulator and its next value
    private readonly OrtValue[][] _p, _m, _v;
    private OrtValue[] _gradAcc, _gradAccNext;
    private readonly OrtValue[] _grad;
    // per parameter: views into the segments (the segment itself for a whole one)
    private readonly OrtValue[][] _pView;
    private OrtValue[] _gradAccView, _gradAccNextView;
    private readonly OrtValue[] _gradView;
    // what backs the segments: flat buffers (shared segments, with views) and whole-parameter tensors
    private readonly List<IDisposable> _owned = [];
    private readonly Dictionary<OrtValue, DeviceMemory.FlatBuffer> _flatOf = new(ReferenceEqualityComparer.Instance);
    // host scalars: inputs lr / grad_scale / step, outputs loss / grad_norm / finite
    private readonly float[] _lr = new float[1], _scale = new float[1], _norm = new float[1], _loss = new float[1];
    private readonly long[] _step = new long[1];
    private readonly bool[] _finite = new bool[1];
    private readonly OrtValue _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue, _lossValue, _lossScaleValue;
    private readonly float[] _lossScale = [1f];
    private readonly bool _hasLossScaleInput;
    private int _cur;
    private int _micro;

    /// <param name="flatOptimizerModel">the artifacts' optimizer graph over <see cref="FlatLayout"/> segments.</param>
    /// <param name="flatAccumulateModel">the accumulator graph over the same segments.</param>
    public DeviceStepEngine(string trainingModel, string flatOptimizerModel, string? flatAccumulateModel,
        IReadOnlyList<TrainableParameter> parameters, IReadOnlyDictionary<string, float[]> initial, string device = "cpu",
        DynamicLossScaler? lossScaler = null)
    {
        _params = parameters;
        _segments = FlatLayout.Of(parameters);
        _train = SessionFactory.Create(trainingModel, device);
        _optim = SessionFactory.Create(flatOptimizerModel, device);
        _accum = flatAccumulateModel is null ? null : SessionFactory.Create(flatAccumulateModel, device);
        var missing = _segments.FirstOrDefault(seg => !_optim.InputMetadata.ContainsKey(seg.Name));
        if (missing is not null)
        {
            throw new ArgumentException($"{flatOptimizerModel}: no input '{missing.Name}'; is it the flat optimizer graph of these parameters?");
        }
        _memory = new DeviceMemory(device, _train);
        _trainBinding = _train.CreateIoBinding();
        _optimBinding = _optim.CreateIoBinding();
        _accumBinding = _accum?.CreateIoBinding();
        foreach (var p in parameters)
        {
            if (!initial.TryGetValue(p.Name, out var init) || init.Length != p.ElementCount)
            {
                throw new ArgumentException($"no initial value of {p.ElementCount} elements for parameter '{p.Name}'");
            }
        }
        _p = [Segments(), Segments()];
        _m = [Segments(), Segments()];
        _v = [Segments(), Segments()];
        _grad = Segments();
        _gradAcc = Segments();
        _gradAccNext = Segments();
        _pView = [Views(_p[0]), Views(_p[1])];
        _gradView = Views(_grad);
        _gradAccView = Views(_gradAcc);
        _gradAccNextView = Views(_gradAccNext);
        UploadAll(_p[0], initial);
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
        var target = _micro == 0 ? _gradAccView : _gradView;
        for (int i = 0; i < _params.Count; i++)
        {
            b.BindInput(_params[i].Name, _pView[_cur][i]);
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
        for (int k = 0; k < _segments.Count; k++)
        {
            var acc = OptimizerNames.GradAccumulator(_segments[k].Name);
            b.BindInput(acc, _gradAcc[k]);
            b.BindInput(OptimizerNames.Grad(_segments[k].Name), _grad[k]);
            b.BindOutput(OptimizerNames.Updated(acc), _gradAccNext[k]);
        }
        _accum.RunWithBinding(_run, b);
        b.SynchronizeBoundOutputs();
        (_gradAcc, _gradAccNext) = (_gradAccNext, _gradAcc);
        (_gradAccView, _gradAccNextView) = (_gradAccNextView, _gradAccView);
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
        for (int k = 0; k < _segments.Count; k++)
        {
            var p = _segments[k].Name;
            b.BindInput(p, _p[_cur][k]);
            b.BindInput(OptimizerNames.Grad(p), _gradAcc[k]);
            b.BindInput(OptimizerNames.ExpAvg(p), _m[_cur][k]);
            b.BindInput(OptimizerNames.ExpAvgSq(p), _v[_cur][k]);
            b.BindOutput(OptimizerNames.Updated(p), _p[next][k]);
            b.BindOutput(OptimizerNames.Updated(OptimizerNames.ExpAvg(p)), _m[next][k]);
            b.BindOutput(OptimizerNames.Updated(OptimizerNames.ExpAvgSq(p)), _v[next][k]);
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
        UploadAll(_p[_cur], p);
        UploadAll(_m[_cur], m);
        UploadAll(_v[_cur], v);
        _step[0] = step;
        _micro = 0;
    }

    /// <summary>One zero-filled device buffer per segment.</summary>
    private OrtValue[] Segments() => _segments.Select(seg =>
    {
        if (seg.IsWhole)
        {
            var value = _memory.Allocate(TensorElementType.Float, seg.Shape);
            _memory.Upload(new float[seg.ElementCount], value);
            _owned.Add(value);
            return value;
        }
        var flat = _memory.AllocateFlat(seg.ElementCount);
        _owned.Add(flat);
        _flatOf[flat.Tensor] = flat;
        return flat.Tensor;
    }).ToArray();

    /// <summary>Per parameter: its view into <paramref name="segments"/> (the segment itself for a whole one).</summary>
    private OrtValue[] Views(OrtValue[] segments)
    {
        var views = new OrtValue[_params.Count];
        for (int k = 0; k < _segments.Count; k++)
        {
            foreach (var (i, offset) in _segments[k].Members)
            {
                views[i] = _segments[k].IsWhole ? segments[k] : _flatOf[segments[k]].View(offset, _params[i].Shape);
            }
        }
        return views;
    }

    private void UploadAll(OrtValue[] segments, IReadOnlyDictionary<string, float[]> values)
    {
        for (int k = 0; k < _segments.Count; k++)
        {
            var host = new float[_segments[k].ElementCount];
            foreach (var (i, offset) in _segments[k].Members)
            {
                values[_params[i].Name].CopyTo(host, offset);
            }
            _memory.Upload(host, segments[k]);
        }
    }

    private Dictionary<string, float[]> Snapshot(OrtValue[] segments)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int k = 0; k < _segments.Count; k++)
        {
            var host = _memory.Download(segments[k]);
            foreach (var (i, offset) in _segments[k].Members)
            {
                d[_params[i].Name] = host.AsSpan((int)offset, (int)_params[i].ElementCount).ToArray();
            }
        }
        return d;
    }

    public void Dispose()
    {
        foreach (var o in _owned)
        {
            o.Dispose();
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
