// One optimisation step on ORT, the only step engine: state in allocator memory (ORT's CPU allocator on Cpu,
// CUDA device memory on Cuda) and every run bound through IOBinding. Parameters, AdamW moments and gradients
// live in flat segments (FlatLayout) allocated once; the training graph binds per-parameter views into them,
// the flat AdamW and accumulator graphs run over whole segments, and the optimizer writes the other half of a
// ping-pong pair. Per step the batch (3 int64 tensors) goes in and the loss, gradient norm and finite flag
// (3 scalars) come back; host copies happen only in Parameters/Moments/Gradients/Restore (checkpoints, export,
// parity), one parameter at a time. It does not schedule the learning rate or load data; the trainer does.
//
// Memory: 7 parameter-sized buffers (2× params, 2× exp_avg, 2× exp_avg_sq, the gradient). The two that gradient
// accumulation adds (the micro-batch gradient and the accumulator's second half) are allocated on the first
// second micro-batch. No host copy of a whole segment is ever made: initial values and checkpoints go in per
// parameter, and zero-filling clears in place (CPU) or uploads 16 MiB at a time (CUDA).
// It replaced a host-array engine (plain Run over managed arrays) that had the same methods: on the bench-58m
// LoRA run the two were within run-to-run noise in tokens/s and peak RSS (docs/memory.md).
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Runtime;

namespace OnnxLora.Training.Engine;

public sealed class StepEngine : IDisposable
{
    private readonly RuntimeOptions _runtime;
    private readonly InferenceSession _train;
    private readonly InferenceSession _optim;
    private readonly InferenceSession _accum;
    private readonly OrtIoBinding _trainBinding, _optimBinding;
    private readonly OrtIoBinding _accumBinding;
    private readonly DeviceMemory _memory;
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly IReadOnlyList<FlatSegment> _segments;
    private readonly RunOptions _run = new();
    // per segment: [0]/[1] ping-pong halves of params, exp_avg, exp_avg_sq; the (accumulated) gradient
    private readonly OrtValue[][] _p, _m, _v;
    private OrtValue[] _gradAcc;
    // per segment, null until a second micro-batch arrives: the micro-batch gradient, the accumulator's next value
    private OrtValue[]? _grad, _gradAccNext;
    // per parameter: views into the segments (the segment itself for a whole one)
    private readonly OrtValue[][] _pView, _mView, _vView;
    private OrtValue[] _gradAccView;
    private OrtValue[]? _gradView, _gradAccNextView;
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

    /// <param name="artifacts">the training graph and the flat optimizer/accumulator graphs over <see cref="FlatLayout"/> segments.</param>
    /// <param name="initial">each parameter's starting value, by name.</param>
    /// <param name="runtime">device and session settings of every session the engine opens.</param>
    /// <param name="lossScaler">the dynamic loss scaler for a graph with a loss_scale input (default: a new one when it has it).</param>
    public StepEngine(TrainingArtifacts artifacts, IReadOnlyDictionary<string, float[]> initial, RuntimeOptions runtime,
        DynamicLossScaler? lossScaler = null)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        _runtime = runtime;
        _params = artifacts.Parameters;
        _segments = artifacts.Segments;
        foreach (var p in _params)
        {
            if (!initial.TryGetValue(p.Name, out var init) || init.Length != p.ElementCount)
            {
                throw new BadInputException($"no initial value of {p.ElementCount} elements for parameter '{p.Name}'");
            }
        }
        _train = SessionFactory.Create(artifacts.TrainingModelPath, runtime);
        _optim = SessionFactory.Create(artifacts.OptimizerModelPath, runtime);
        _accum = SessionFactory.Create(artifacts.AccumulateModelPath, runtime);
        var missing = _segments.FirstOrDefault(seg => !_optim.InputMetadata.ContainsKey(seg.Name));
        if (missing is not null)
        {
            throw new BadInputException($"{artifacts.OptimizerModelPath}: no input '{missing.Name}'; is it the flat optimizer graph of these parameters?");
        }
        _memory = new DeviceMemory(runtime, _train);
        _trainBinding = _train.CreateIoBinding();
        _optimBinding = _optim.CreateIoBinding();
        _accumBinding = _accum.CreateIoBinding();
        _p = [Segments(), Segments()];
        _m = [Segments(), Segments()];
        _v = [Segments(), Segments()];
        _gradAcc = Segments();
        _pView = [Views(_p[0]), Views(_p[1])];
        _mView = [Views(_m[0]), Views(_m[1])];
        _vView = [Views(_v[0]), Views(_v[1])];
        _gradAccView = Views(_gradAcc);
        UploadAll(_pView[0], initial, nameof(initial));
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

    public Device Device => _runtime.Device;

    /// <summary>Optimizer steps taken so far (t of the bias correction).</summary>
    public long StepCount => _step[0];

    public float LastGradNorm => _norm[0];

    public bool LastStepFinite => _finite[0];

    /// <summary>Runs forward + backward on one micro-batch and accumulates its gradients; returns its loss.</summary>
    public float ForwardBackward(BatchTensors batch)
    {
        var b = _trainBinding;
        b.ClearBoundInputs();
        b.ClearBoundOutputs();
        for (int k = 0; k < batch.Names.Count; k++)
        {
            b.BindInput(batch.Names[k], batch.Values[k]); // host → device once, by ORT's feed copy
        }
        var target = _micro == 0 ? _gradAccView : AccumulationViews();
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

    /// <summary>
    /// The micro-batch gradient views; on first use also allocates the accumulator's second half (9 buffers
    /// from then on, 7 for runs that never accumulate).
    /// </summary>
    private OrtValue[] AccumulationViews()
    {
        if (_grad is null)
        {
            _grad = Segments();
            _gradAccNext = Segments();
            _gradView = Views(_grad);
            _gradAccNextView = Views(_gradAccNext);
        }
        return _gradView!;
    }

    private void Accumulate()
    {
        var b = _accumBinding;
        b.ClearBoundInputs();
        b.ClearBoundOutputs();
        for (int k = 0; k < _segments.Count; k++)
        {
            var acc = OptimizerNames.GradAccumulator(_segments[k].Name);
            b.BindInput(acc, _gradAcc[k]);
            b.BindInput(OptimizerNames.Grad(_segments[k].Name), _grad![k]);
            b.BindOutput(OptimizerNames.Updated(acc), _gradAccNext![k]);
        }
        _accum.RunWithBinding(_run, b);
        b.SynchronizeBoundOutputs();
        (_gradAcc, _gradAccNext) = (_gradAccNext!, _gradAcc);
        (_gradAccView, _gradAccNextView) = (_gradAccNextView!, _gradAccView);
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

    /// <summary>Copies current parameters out (checkpoints and adapter export; not on the hot path).</summary>
    public Dictionary<string, float[]> Parameters() => Snapshot(_pView[_cur]);

    public (Dictionary<string, float[]> ExpAvg, Dictionary<string, float[]> ExpAvgSq) Moments() => (Snapshot(_mView[_cur]), Snapshot(_vView[_cur]));

    /// <summary>Current accumulated gradients (parity checks).</summary>
    public Dictionary<string, float[]> Gradients() => Snapshot(_gradAccView);

    /// <summary>Restores parameters, moments and the step counter (exact resume).</summary>
    public void Restore(IReadOnlyDictionary<string, float[]> p, IReadOnlyDictionary<string, float[]> m, IReadOnlyDictionary<string, float[]> v, long step)
    {
        UploadAll(_pView[_cur], p, "parameters");
        UploadAll(_mView[_cur], m, "exp_avg");
        UploadAll(_vView[_cur], v, "exp_avg_sq");
        _step[0] = step;
        _micro = 0;
    }

    /// <summary>One zero-filled device buffer per segment.</summary>
    private OrtValue[] Segments() => _segments.Select(seg =>
    {
        if (seg.IsWhole)
        {
            var value = _memory.Allocate(TensorElementType.Float, seg.Shape);
            _owned.Add(value);
            _memory.Zero(value);
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

    /// <summary>Copies each parameter's host values into its view, one parameter at a time.</summary>
    private void UploadAll(OrtValue[] views, IReadOnlyDictionary<string, float[]> values, string what)
    {
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            if (!values.TryGetValue(p.Name, out var host) || host.Length != p.ElementCount)
            {
                throw new BadInputException($"{what}: no value of {p.ElementCount} elements for parameter '{p.Name}'");
            }
            _memory.Upload(host, views[i]);
        }
    }

    private Dictionary<string, float[]> Snapshot(OrtValue[] views)
    {
        var d = new Dictionary<string, float[]>(StringComparer.Ordinal);
        for (int i = 0; i < _params.Count; i++)
        {
            d[_params[i].Name] = _memory.Download(views[i]);
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
        _accumBinding.Dispose();
        _memory.Dispose();
        _run.Dispose();
        SessionFactory.Release(_train, _runtime);
        SessionFactory.Release(_optim, _runtime);
        SessionFactory.Release(_accum, _runtime);
    }
}
