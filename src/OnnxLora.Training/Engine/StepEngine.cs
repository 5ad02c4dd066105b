// One optimisation step on ORT, the only step engine: state in allocator memory (ORT's CPU allocator on Cpu,
// CUDA device memory on Cuda) and every run bound through IOBinding. Parameters, AdamW moments and gradients
// live in flat segments (FlatLayout) allocated once; the training graph binds per-parameter views into them.
// AdamW runs in place: the norm graph reads every gradient chunk once, then the update graph runs per chunk into
// a chunk-sized scratch that is copied back over that chunk, so no second copy of the state exists. Per step the
// batch (3 int64 tensors) goes in and the loss, gradient norm and finite flag (3 scalars) come back; host copies
// happen only in Parameters/Moments/Gradients/Restore (checkpoints, export, parity), one parameter at a time.
// It does not schedule the learning rate or load data; the trainer does.
//
// Memory: 4 parameter-sized buffers (params, exp_avg, exp_avg_sq, the accumulated gradient) and a 3-chunk scratch.
// Gradient accumulation adds the micro-batch gradient, allocated on the first second micro-batch. No host copy of
// a whole segment is ever made: values go in and out per parameter, zero-filling clears in place (CPU) or uploads
// 16 MiB at a time (CUDA). On CPU, artifacts with weight views read the frozen weights through SharedWeights (one
// memory map, no prepacked or folded copies). The ping-pong engine it replaced held 7 buffers (docs/memory.md).
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Autodiff.Optim;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;
using OnnxLora.Training.Artifacts;
using OnnxLora.Training.Runtime;
using FlatBuffer = OnnxLora.Training.Runtime.DeviceMemory.FlatBuffer;

namespace OnnxLora.Training.Engine;

public sealed class StepEngine : IDisposable
{
    private readonly RuntimeOptions _runtime;
    private readonly InferenceSession _train, _norm, _update, _accum;
    private readonly OrtIoBinding _trainBinding, _normBinding, _updateBinding, _accumBinding;
    private readonly DeviceMemory _memory;
    private readonly SharedWeights? _ownedWeights;
    private readonly IReadOnlyList<TrainableParameter> _params;
    private readonly IReadOnlyList<FlatSegment> _segments;
    private readonly IReadOnlyList<FlatChunk> _chunks;
    private readonly bool _clipping;
    private readonly RunOptions _run = new();
    // per segment: parameters, exp_avg, exp_avg_sq, the (accumulated) gradient; the micro-batch gradient once needed
    private readonly FlatBuffer[] _p, _m, _v, _gradAcc;
    private FlatBuffer[]? _grad;
    // per parameter: views into the segments
    private readonly OrtValue[] _pView, _mView, _vView, _gradAccView;
    private OrtValue[]? _gradView;
    // per chunk: views into the segments and into the scratch (three buffers of the largest chunk)
    private readonly OrtValue[] _pChunk, _mChunk, _vChunk, _gradAccChunk, _scratchP, _scratchM, _scratchV;
    private OrtValue[]? _gradChunk;
    private readonly FlatBuffer[] _scratch;
    // host scalars: inputs lr / grad_scale / step, outputs loss / grad_norm / finite / clip_coef
    private readonly float[] _lr = new float[1], _scale = new float[1], _norm1 = new float[1], _loss = new float[1], _clip = new float[1];
    private readonly long[] _step = new long[1];
    private readonly bool[] _finite = new bool[1];
    private readonly OrtValue _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue, _lossValue, _lossScaleValue, _clipValue;
    private readonly float[] _lossScale = [1f];
    private readonly bool _hasLossScaleInput;
    private int _micro;

    /// <param name="artifacts">the training graph and the chunked optimizer/accumulator graphs over <see cref="FlatLayout"/> segments.</param>
    /// <param name="initial">each parameter's starting value, by name.</param>
    /// <param name="runtime">device and session settings of every session the engine opens.</param>
    /// <param name="lossScaler">the dynamic loss scaler for a graph with a loss_scale input (default: a new one when it has it).</param>
    /// <param name="weights">
    /// frozen weights shared with other sessions of these artifacts (the evaluator's); on CPU with weight views
    /// the engine maps its own when none are given. Ignored on CUDA and for artifacts without weight views.
    /// </param>
    public StepEngine(TrainingArtifacts artifacts, IReadOnlyDictionary<string, float[]> initial, RuntimeOptions runtime,
        DynamicLossScaler? lossScaler = null, SharedWeights? weights = null)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        _runtime = runtime;
        _params = artifacts.Parameters;
        _segments = artifacts.Segments;
        _chunks = artifacts.Chunks;
        foreach (var p in _params)
        {
            if (!initial.TryGetValue(p.Name, out var init) || init.Length != p.ElementCount)
            {
                throw new BadInputException($"no initial value of {p.ElementCount} elements for parameter '{p.Name}'");
            }
        }
        if (UsesSharedWeights(artifacts, runtime))
        {
            weights ??= _ownedWeights = new SharedWeights();
        }
        else
        {
            weights = null;
        }
        _train = SessionFactory.Create(artifacts.TrainingModelPath, runtime, weights);
        _norm = SessionFactory.Create(artifacts.GradNormModelPath, runtime);
        _update = SessionFactory.Create(artifacts.OptimizerModelPath, runtime);
        _accum = SessionFactory.Create(artifacts.AccumulateModelPath, runtime);
        var missing = _chunks.FirstOrDefault(c => !_norm.InputMetadata.ContainsKey(OptimizerNames.Grad(c.Name)));
        if (missing is not null || _norm.InputMetadata.Count != _chunks.Count + 1)
        {
            throw new BadInputException($"{artifacts.GradNormModelPath}: its inputs are not the {_chunks.Count} gradient chunks of these parameters");
        }
        _clipping = _update.InputMetadata.ContainsKey(OptimizerNames.ClipCoef);
        _memory = new DeviceMemory(runtime, _train);
        _trainBinding = _train.CreateIoBinding();
        _normBinding = _norm.CreateIoBinding();
        _updateBinding = _update.CreateIoBinding();
        _accumBinding = _accum.CreateIoBinding();
        _p = Segments();
        _m = Segments();
        _v = Segments();
        _gradAcc = Segments();
        _pView = Views(_p);
        _mView = Views(_m);
        _vView = Views(_v);
        _gradAccView = Views(_gradAcc);
        _pChunk = ChunkViews(_p);
        _mChunk = ChunkViews(_m);
        _vChunk = ChunkViews(_v);
        _gradAccChunk = ChunkViews(_gradAcc);
        long scratch = _chunks.Max(c => c.Length);
        _scratch = [_memory.AllocateFlat(scratch), _memory.AllocateFlat(scratch), _memory.AllocateFlat(scratch)];
        _scratchP = _chunks.Select(c => _scratch[0].View(0, [c.Length])).ToArray();
        _scratchM = _chunks.Select(c => _scratch[1].View(0, [c.Length])).ToArray();
        _scratchV = _chunks.Select(c => _scratch[2].View(0, [c.Length])).ToArray();
        UploadAll(_pView, initial, nameof(initial));
        _lrValue = OrtValue.CreateTensorValueFromMemory(_lr, []);
        _scaleValue = OrtValue.CreateTensorValueFromMemory(_scale, []);
        _stepValue = OrtValue.CreateTensorValueFromMemory(_step, []);
        _normValue = OrtValue.CreateTensorValueFromMemory(_norm1, []);
        _finiteValue = OrtValue.CreateTensorValueFromMemory(_finite, []);
        _lossValue = OrtValue.CreateTensorValueFromMemory(_loss, []);
        _lossScaleValue = OrtValue.CreateTensorValueFromMemory(_lossScale, []);
        _clipValue = OrtValue.CreateTensorValueFromMemory(_clip, []);
        _hasLossScaleInput = _train.InputMetadata.ContainsKey(TrainingGraphOptions.LossScaleInput);
        if (lossScaler is not null && !_hasLossScaleInput)
        {
            throw new ArgumentException($"a loss scaler needs a training graph built with LossScaling (input '{TrainingGraphOptions.LossScaleInput}')");
        }
        LossScaler = lossScaler ?? (_hasLossScaleInput ? new DynamicLossScaler() : null);
    }

    /// <summary>True when sessions of <paramref name="artifacts"/> on <paramref name="runtime"/> read frozen weights through SharedWeights.</summary>
    public static bool UsesSharedWeights(TrainingArtifacts artifacts, RuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(artifacts);
        ArgumentNullException.ThrowIfNull(runtime);
        return artifacts.WeightViews && runtime.Device == Device.Cpu;
    }

    /// <summary>The dynamic loss scaler when the training graph takes loss_scale (mixed precision), else null.</summary>
    public DynamicLossScaler? LossScaler { get; }

    public Device Device => _runtime.Device;

    /// <summary>Optimizer steps taken so far (t of the bias correction).</summary>
    public long StepCount => _step[0];

    public float LastGradNorm => _norm1[0];

    public bool LastStepFinite => _finite[0];

    /// <summary>
    /// Bytes of optimizer state the engine holds: parameter-sized buffers (4, or 5 once gradients accumulate) and
    /// the chunk scratch. Activations and weights are not included.
    /// </summary>
    public long StateBytes
    {
        get
        {
            long segments = _segments.Sum(s => s.ElementCount) * sizeof(float);
            return segments * (_grad is null ? 4 : 5) + 3 * _chunks.Max(c => c.Length) * sizeof(float);
        }
    }

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
            b.BindInput(_params[i].Name, _pView[i]);
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

    /// <summary>The micro-batch gradient views; on first use also allocates that gradient (5 buffers from then on).</summary>
    private OrtValue[] AccumulationViews()
    {
        if (_grad is null)
        {
            _grad = Segments();
            _gradView = Views(_grad);
            _gradChunk = ChunkViews(_grad);
        }
        return _gradView!;
    }

    /// <summary>gradient accumulator += micro-batch gradient, chunk by chunk through the scratch.</summary>
    private void Accumulate()
    {
        var b = _accumBinding;
        var acc = OptimizerNames.GradAccumulator(ChunkedOptimizerGraphs.Chunk);
        for (int c = 0; c < _chunks.Count; c++)
        {
            b.ClearBoundInputs();
            b.ClearBoundOutputs();
            b.BindInput(acc, _gradAccChunk[c]);
            b.BindInput(OptimizerNames.Grad(ChunkedOptimizerGraphs.Chunk), _gradChunk![c]);
            b.BindOutput(OptimizerNames.Updated(acc), _scratchP[c]);
            _accum.RunWithBinding(_run, b);
            b.SynchronizeBoundOutputs();
            _memory.Copy(_scratchP[c], _gradAccChunk[c]);
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
        _micro = 0;

        // 1. global norm, finite flag and clip coefficient over every gradient chunk, before any update
        var nb = _normBinding;
        nb.ClearBoundInputs();
        nb.ClearBoundOutputs();
        nb.BindInput(OptimizerNames.GradScale, _scaleValue);
        for (int c = 0; c < _chunks.Count; c++)
        {
            nb.BindInput(OptimizerNames.Grad(_chunks[c].Name), _gradAccChunk[c]);
        }
        nb.BindOutput(OptimizerNames.GradNorm, _normValue);
        nb.BindOutput(OptimizerNames.GradFinite, _finiteValue);
        if (_clipping)
        {
            nb.BindOutput(OptimizerNames.ClipCoef, _clipValue);
        }
        _norm.RunWithBinding(_run, nb);
        nb.SynchronizeBoundOutputs();
        LossScaler?.Update(_finite[0]);
        if (!_finite[0])
        {
            return false; // skipped: no update, and the bias correction does not advance (torch's GradScaler skips optimizer.step)
        }

        // 2. each chunk: AdamW into the scratch, then the scratch over the chunk
        _step[0]++;
        string p = ChunkedOptimizerGraphs.Chunk, m = OptimizerNames.ExpAvg(p), v = OptimizerNames.ExpAvgSq(p);
        var ub = _updateBinding;
        for (int c = 0; c < _chunks.Count; c++)
        {
            ub.ClearBoundInputs();
            ub.ClearBoundOutputs();
            ub.BindInput(OptimizerNames.LearningRate, _lrValue);
            ub.BindInput(OptimizerNames.Step, _stepValue);
            ub.BindInput(OptimizerNames.GradScale, _scaleValue);
            if (_clipping)
            {
                ub.BindInput(OptimizerNames.ClipCoef, _clipValue);
            }
            ub.BindInput(p, _pChunk[c]);
            ub.BindInput(OptimizerNames.Grad(p), _gradAccChunk[c]);
            ub.BindInput(m, _mChunk[c]);
            ub.BindInput(v, _vChunk[c]);
            ub.BindOutput(OptimizerNames.Updated(p), _scratchP[c]);
            ub.BindOutput(OptimizerNames.Updated(m), _scratchM[c]);
            ub.BindOutput(OptimizerNames.Updated(v), _scratchV[c]);
            _update.RunWithBinding(_run, ub);
            ub.SynchronizeBoundOutputs();
            _memory.Copy(_scratchP[c], _pChunk[c]);
            _memory.Copy(_scratchM[c], _mChunk[c]);
            _memory.Copy(_scratchV[c], _vChunk[c]);
        }
        return true;
    }

    /// <summary>Copies current parameters out (checkpoints and adapter export; not on the hot path).</summary>
    public Dictionary<string, float[]> Parameters() => Snapshot(_pView);

    public (Dictionary<string, float[]> ExpAvg, Dictionary<string, float[]> ExpAvgSq) Moments() => (Snapshot(_mView), Snapshot(_vView));

    /// <summary>Current accumulated gradients (parity checks).</summary>
    public Dictionary<string, float[]> Gradients() => Snapshot(_gradAccView);

    /// <summary>Restores parameters, moments and the step counter (exact resume).</summary>
    public void Restore(IReadOnlyDictionary<string, float[]> p, IReadOnlyDictionary<string, float[]> m, IReadOnlyDictionary<string, float[]> v, long step)
    {
        UploadAll(_pView, p, "parameters");
        UploadAll(_mView, m, "exp_avg");
        UploadAll(_vView, v, "exp_avg_sq");
        _step[0] = step;
        _micro = 0;
    }

    /// <summary>One zero-filled flat buffer per segment.</summary>
    private FlatBuffer[] Segments() => _segments.Select(seg => _memory.AllocateFlat(seg.ElementCount)).ToArray();

    /// <summary>Per parameter: its view into <paramref name="segments"/> (in its own shape).</summary>
    private OrtValue[] Views(FlatBuffer[] segments)
    {
        var views = new OrtValue[_params.Count];
        for (int k = 0; k < _segments.Count; k++)
        {
            foreach (var (i, offset) in _segments[k].Members)
            {
                views[i] = segments[k].View(offset, _params[i].Shape);
            }
        }
        return views;
    }

    /// <summary>Per chunk: its [length] view into <paramref name="segments"/>.</summary>
    private OrtValue[] ChunkViews(FlatBuffer[] segments) =>
        _chunks.Select(c => segments[c.Segment].View(c.Offset, [c.Length])).ToArray();

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
        // views are disposed with their buffers
        foreach (var buffer in _p.Concat(_m).Concat(_v).Concat(_gradAcc).Concat(_grad ?? []).Concat(_scratch))
        {
            buffer.Dispose();
        }
        foreach (var v in new[] { _lrValue, _scaleValue, _stepValue, _normValue, _finiteValue, _lossValue, _lossScaleValue, _clipValue })
        {
            v.Dispose();
        }
        _trainBinding.Dispose();
        _normBinding.Dispose();
        _updateBinding.Dispose();
        _accumBinding.Dispose();
        _memory.Dispose();
        _run.Dispose();
        SessionFactory.Release(_train, _runtime);
        SessionFactory.Release(_norm, _runtime);
        SessionFactory.Release(_update, _runtime);
        SessionFactory.Release(_accum, _runtime);
        _ownedWeights?.Dispose(); // after the sessions that read them
    }
}
