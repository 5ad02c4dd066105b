// Where resident tensors live for a device: Cpu → ORT's CPU allocator, Cuda → the CUDA device allocator
// of a session (device 0). Also the one host↔device copy path the engines use:
// a one-node Identity model run through IOBinding, so the copy works with the classic CUDA EP
// (OrtEnv.CopyTensors needs an EP registered as a plugin library, which AppendExecutionProvider_CUDA is not).
// It does not allocate per step; callers allocate once and reuse.
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Proto;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Training.Runtime;

public sealed class DeviceMemory : IDisposable
{
    private readonly Dictionary<TensorElementType, InferenceSession> _copiers = [];
    private readonly OrtAllocator? _deviceAllocator;
    private readonly RunOptions _run = new();
    private readonly RuntimeOptions _runtime;

    /// <param name="runtime">the device (and, for the copy sessions, every other setting) of <paramref name="session"/>.</param>
    /// <param name="session">a session of that device; its allocator serves device memory.</param>
    public DeviceMemory(RuntimeOptions runtime, InferenceSession session)
    {
        // the copy sessions run one Identity node: never profiled
        _runtime = runtime with { ProfilePrefix = null };
        if (runtime.Device == Device.Cuda)
        {
            Info = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default);
            _deviceAllocator = new OrtAllocator(session, Info);
            Allocator = _deviceAllocator;
        }
        else
        {
            Info = OrtMemoryInfo.DefaultInstance;
            Allocator = OrtAllocator.DefaultInstance;
        }
    }

    public Device Device => _runtime.Device;

    public bool IsHost => Device == Device.Cpu;

    public OrtMemoryInfo Info { get; }

    public OrtAllocator Allocator { get; }

    /// <summary>An uninitialised tensor in device memory.</summary>
    public OrtValue Allocate(TensorElementType type, long[] shape) => OrtValue.CreateAllocatedTensorValue(Allocator, type, shape);

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> (same type and shape; any pair of host/device).</summary>
    public void Copy(OrtValue src, OrtValue dst)
    {
        var type = src.GetTensorTypeAndShape().ElementDataType;
        if (IsHost)
        {
            CopyHost(src, dst, type);
            return;
        }
        var session = Copier(type);
        using var binding = session.CreateIoBinding();
        binding.BindInput("x", src);
        binding.BindOutput("y", dst);
        session.RunWithBinding(_run, binding);
        binding.SynchronizeBoundOutputs();
    }

    /// <summary>Host floats used per copy when zero-filling device memory (16 MiB).</summary>
    private const int ZeroChunkElements = 1 << 22;

    /// <summary>The most floats one flat buffer holds: ORT's allocator takes a 32-bit byte count (just under 4 GiB).</summary>
    public const long MaxFlatElements = uint.MaxValue / sizeof(float);

    /// <summary>
    /// A float32 vector of <paramref name="elements"/> in this device's memory (zero-filled, under 4 GiB), whose
    /// address is known, so <see cref="FlatBuffer.View"/> can lay tensors over parts of it without copies.
    /// Zero-filling needs no host copy of the buffer: on CPU it clears the memory in place, on CUDA it uploads
    /// one 16 MiB block of zeros at a time.
    /// </summary>
    public FlatBuffer AllocateFlat(long elements)
    {
        long bytes = elements * sizeof(float);
        if (elements <= 0 || elements > MaxFlatElements)
        {
            throw new ArgumentOutOfRangeException(nameof(elements), $"a flat buffer holds 1 to {MaxFlatElements} floats, not {elements}");
        }
        var memory = Allocator.Allocate((uint)bytes);
        var flat = new FlatBuffer(this, memory, elements);
        flat.Zero();
        return flat;
    }

    /// <summary>Device memory owned by address (OrtAllocator.Allocate) with a [N] float tensor over it and views into it.</summary>
    public sealed class FlatBuffer(DeviceMemory device, OrtMemoryAllocation memory, long elements) : IDisposable
    {
        private readonly List<OrtValue> _views = [];

        public OrtValue Tensor { get; } = OrtValue.CreateTensorValueWithData(device.Info, TensorElementType.Float, [elements], memory.DangerousGetHandle(), elements * sizeof(float));

        /// <summary>A float tensor of <paramref name="shape"/> from element <paramref name="offset"/>; disposed with the buffer.</summary>
        public OrtValue View(long offset, long[] shape)
        {
            var view = CreateView(offset, shape);
            _views.Add(view);
            return view;
        }

        /// <summary>Sets every element to 0 without a host copy of the whole buffer.</summary>
        public void Zero()
        {
            if (device.IsHost)
            {
                Tensor.GetTensorMutableDataAsSpan<float>().Clear();
                return;
            }
            var zeros = new float[Math.Min(elements, ZeroChunkElements)];
            for (long offset = 0; offset < elements; offset += zeros.Length)
            {
                int n = (int)Math.Min(zeros.Length, elements - offset);
                using var view = CreateView(offset, [n]);
                using var src = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, zeros.AsMemory(0, n), [n]);
                device.Copy(src, view);
            }
        }

        /// <summary>A view the caller disposes (before the buffer).</summary>
        private OrtValue CreateView(long offset, long[] shape)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (offset < 0 || offset + count > elements)
            {
                throw new ArgumentOutOfRangeException(nameof(offset), $"view [{offset}, {offset + count}) outside a buffer of {elements} floats");
            }
            return OrtValue.CreateTensorValueWithData(device.Info, TensorElementType.Float, shape, memory.DangerousGetHandle() + (nint)(offset * sizeof(float)), count * sizeof(float));
        }

        public void Dispose()
        {
            foreach (var v in _views)
            {
                v.Dispose();
            }
            Tensor.Dispose();
            memory.Dispose();
        }
    }

    /// <summary>Sets a float tensor in this device's memory to 0 (in place on CPU; on CUDA through a host array of its size).</summary>
    public void Zero(OrtValue dst)
    {
        if (IsHost)
        {
            dst.GetTensorMutableDataAsSpan<float>().Clear();
            return;
        }
        Upload(new float[dst.GetTensorTypeAndShape().ElementCount], dst);
    }

    /// <summary>Uploads host floats into a device tensor of the same element count.</summary>
    public void Upload(float[] host, OrtValue dst)
    {
        using var src = OrtValue.CreateTensorValueFromMemory(host, dst.GetTensorTypeAndShape().Shape);
        Copy(src, dst);
    }

    /// <summary>Downloads a float tensor to a new host array.</summary>
    public float[] Download(OrtValue src)
    {
        var info = src.GetTensorTypeAndShape();
        var host = new float[info.ElementCount];
        using var dst = OrtValue.CreateTensorValueFromMemory(host, info.Shape);
        Copy(src, dst);
        return host;
    }

    private static void CopyHost(OrtValue src, OrtValue dst, TensorElementType type)
    {
        switch (type)
        {
            case TensorElementType.Float: src.GetTensorDataAsSpan<float>().CopyTo(dst.GetTensorMutableDataAsSpan<float>()); break;
            case TensorElementType.Int64: src.GetTensorDataAsSpan<long>().CopyTo(dst.GetTensorMutableDataAsSpan<long>()); break;
            case TensorElementType.Float16: src.GetTensorDataAsSpan<Float16>().CopyTo(dst.GetTensorMutableDataAsSpan<Float16>()); break;
            case TensorElementType.BFloat16: src.GetTensorDataAsSpan<BFloat16>().CopyTo(dst.GetTensorMutableDataAsSpan<BFloat16>()); break;
            default: throw new NotSupportedException($"host copy of {type}");
        }
    }

    private InferenceSession Copier(TensorElementType type)
    {
        if (_copiers.TryGetValue(type, out var s))
        {
            return s;
        }
        s = SessionFactory.Create(IdentityModel(type), _runtime, "copy");
        _copiers[type] = s;
        return s;
    }

    /// <summary>y = Identity(x) for any shape of one element type.</summary>
    private static byte[] IdentityModel(TensorElementType type)
    {
        var et = (ElementType)(int)type; // both follow ONNX TensorProto.DataType
        var graph = new GraphProto { Name = "copy" };
        graph.Input.Add(AnyShape("x", et));
        graph.Output.Add(AnyShape("y", et));
        graph.Node.Add(new Node("Identity", "copy", ["x"], ["y"]).Proto);
        var proto = new Model(new Graph()).Header.Clone();
        proto.Graph = graph;
        return proto.ToByteArray();
    }

    private static ValueInfoProto AnyShape(string name, ElementType et)
    {
        var vi = Graph.MakeValueInfo(name, et);
        vi.Type.TensorType.Shape = null; // no shape: any rank (an empty shape would mean a scalar)
        return vi;
    }

    public void Dispose()
    {
        foreach (var s in _copiers.Values)
        {
            s.Dispose();
        }
        _deviceAllocator?.Dispose();
        _run.Dispose();
    }
}
