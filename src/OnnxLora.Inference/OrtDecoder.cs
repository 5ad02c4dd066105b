// Token generation on plain ONNX Runtime, for any decoder we read: a GenAI/builder folder, or a torch.onnx /
// optimum export (position_ids input; with or without past_key_values). The CUDA generation path (ORT GenAI's
// CUDA package is not available), and the same loop on CPU. With a KV cache each step feeds input_ids /
// attention_mask (and position_ids P..T-1) from the host and past_key_values.N.* from the previous step's
// present.N.*; without one it feeds the whole sequence each step (positions 0..T-1). Only the last logits row
// comes to the host for greedy / top-k / top-p sampling (GenerationOptions, as GenAI reads them). Without an
// adapter it binds I/O (IOBinding: the cache stays in device memory on CUDA); with an .onnx_adapter it runs
// through Run with the adapter active (ORT ignores LoRA adapters under IOBinding). It does not do beam search
// or batching; the cache grows by reallocation. Sessions come from SessionFactory (the same RuntimeOptions as
// training). B=1 (batch), S=new tokens this step, P=past length, T=P+S, K=kv heads, d=head dim, V=vocab
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Models;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Inference;

public sealed class OrtDecoder : IDisposable
{
    private const string PositionIds = "position_ids";

    private readonly InferenceSession _session;
    private readonly RuntimeOptions _runtime;
    private readonly OrtMemoryInfo _cacheMemory;
    private readonly OrtMemoryInfo? _ownedMemory;
    private readonly OrtLoraAdapter? _adapter;
    private readonly int _layers, _kvHeads, _headDim, _contextLength;
    private readonly bool _hasMask, _hasPositions;
    private readonly HashSet<int> _eos;
    private readonly TensorElementType _cacheType;

    /// <param name="model">a model folder (genai_config.json names the decoder; else model.onnx or its only .onnx) or an .onnx file.</param>
    /// <param name="runtime">device (Cuda needs the -p:OnnxLoraCuda=true build) and session settings.</param>
    /// <param name="adapter">an .onnx_adapter for an adapter-ready model, active on every step; null for none.</param>
    public OrtDecoder(string model, RuntimeOptions runtime, string? adapter = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var folder = GenAiFolder.OpenPath(model);
        var (kvHeads, headDim, context, eos) = Geometry(folder.Dir);
        _runtime = runtime;
        _session = SessionFactory.Create(folder.DecoderPath, runtime);
        var inputs = _session.InputMetadata;
        _layers = inputs.Keys.Count(k => k.StartsWith("past_key_values.", StringComparison.Ordinal) && k.EndsWith(".key", StringComparison.Ordinal));
        _hasMask = inputs.ContainsKey(GenAiNames.AttentionMask);
        _hasPositions = inputs.ContainsKey(PositionIds);
        if (_layers > 0)
        {
            var past = inputs[GenAiNames.PastKey(0)];
            _cacheType = past.ElementDataType;
            // (B,K,P,d): the model's own declaration wins; symbolic dims (the builder's kv_cache_dim) come from the configs.
            _kvHeads = past.Dimensions[1] > 0 ? past.Dimensions[1] : kvHeads ?? throw Missing(folder.Dir, "num_key_value_heads");
            _headDim = past.Dimensions[3] > 0 ? past.Dimensions[3] : headDim ?? throw Missing(folder.Dir, "head_size/head_dim");
        }
        _contextLength = context ?? int.MaxValue;
        _eos = eos;
        if (runtime.Device == Device.Cuda)
        {
            _ownedMemory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default);
            _cacheMemory = _ownedMemory;
        }
        else
        {
            _cacheMemory = OrtMemoryInfo.DefaultInstance;
        }
        if (adapter is not null)
        {
            if (!File.Exists(adapter))
            {
                throw new FileNotFoundException($"{adapter}: adapter file not found", adapter);
            }
            _adapter = OrtLoraAdapter.Create(adapter, null);
        }
    }

    public Device Device => _runtime.Device;

    /// <summary>Yields each new token id (prompt excluded); stops after an EOS token (yielded) or MaxNewTokens.</summary>
    public IEnumerable<int> GenerateTokens(int[] prompt, GenerationOptions o)
    {
        if (prompt.Length == 0)
        {
            throw new BadInputException("generation needs a non-empty prompt");
        }
        var random = o.Seed is { } seed ? new Random(seed) : new Random();
        using var binding = _adapter is null ? _session.CreateIoBinding() : null;
        using var run = new RunOptions();
        if (_adapter is not null)
        {
            run.AddActiveLoraAdapter(_adapter);
        }
        var empty = new List<OrtValue>();
        IDisposableReadOnlyCollection<OrtValue>? previous = null;
        var sequence = prompt.Select(t => (long)t).ToList();
        int past = 0;
        var outputNames = new List<string> { GenAiNames.Logits };
        for (int l = 0; l < _layers; l++)
        {
            outputNames.Add(GenAiNames.PresentKey(l));
            outputNames.Add(GenAiNames.PresentValue(l));
        }
        try
        {
            // P=0 at the start: an empty host cache (B,K,0,d) of the model's dtype
            for (int i = 0; i < 2 * _layers; i++)
            {
                empty.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, _cacheType, [1, _kvHeads, 0, _headDim]));
            }
            for (int produced = 0; produced < o.MaxNewTokens && sequence.Count <= _contextLength; produced++)
            {
                int total = sequence.Count, start = _layers > 0 ? past : 0;
                long[] ids = [.. sequence.Skip(start)]; // (B,S): the new tokens, or all of them without a cache
                long[] mask = [.. Enumerable.Repeat(1L, total)]; // (B,T)
                long[] positions = [.. Enumerable.Range(start, total - start).Select(p => (long)p)]; // (B,S)
                using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]);
                using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, [1, total]);
                using var positionValue = OrtValue.CreateTensorValueFromMemory(positions, [1, positions.Length]);
                var names = new List<string> { GenAiNames.InputIds };
                var values = new List<OrtValue> { idsValue };
                if (_hasMask)
                {
                    names.Add(GenAiNames.AttentionMask);
                    values.Add(maskValue);
                }
                if (_hasPositions)
                {
                    names.Add(PositionIds);
                    values.Add(positionValue);
                }
                for (int l = 0; l < _layers; l++)
                {
                    // past ← last step's present (outputs 1.. of the previous run)
                    names.Add(GenAiNames.PastKey(l));
                    values.Add(previous is null ? empty[2 * l] : previous[1 + 2 * l]);
                    names.Add(GenAiNames.PastValue(l));
                    values.Add(previous is null ? empty[(2 * l) + 1] : previous[2 + (2 * l)]);
                }
                var outputs = binding is null ? _session.Run(run, names, values, outputNames) : RunBound(binding, run, names, values, outputNames);
                previous?.Dispose();
                previous = outputs;
                var logits = LastRow(outputs[0]);
                if (produced < o.MinNewTokens)
                {
                    foreach (var e in _eos)
                    {
                        logits[e] = float.NegativeInfinity;
                    }
                }
                int next = o.DoSample ? TokenSampler.Sample(logits, o, random) : TokenSampler.ArgMax(logits);
                yield return next;
                if (_eos.Contains(next))
                {
                    yield break;
                }
                past = total;
                sequence.Add(next);
            }
        }
        finally
        {
            previous?.Dispose();
            foreach (var v in empty)
            {
                v.Dispose();
            }
        }
    }

    // Logits to the host, presents left where ORT puts them (device memory on CUDA).
    private IDisposableReadOnlyCollection<OrtValue> RunBound(OrtIoBinding binding, RunOptions run, List<string> names, List<OrtValue> values,
        List<string> outputNames)
    {
        binding.ClearBoundInputs();
        binding.ClearBoundOutputs();
        for (int i = 0; i < names.Count; i++)
        {
            binding.BindInput(names[i], values[i]);
        }
        binding.BindOutputToDevice(outputNames[0], OrtMemoryInfo.DefaultInstance); // (B,S,V) on the host
        foreach (var present in outputNames.Skip(1))
        {
            binding.BindOutputToDevice(present, _cacheMemory); // (B,K,T,d) stays on the device
        }
        _session.RunWithBinding(run, binding);
        binding.SynchronizeBoundOutputs();
        return binding.GetOutputValues();
    }

    /// <summary>KV heads, head size, context length and EOS ids: genai_config.json first, else the HF config.json beside an export.</summary>
    private static (int? KvHeads, int? HeadDim, int? Context, HashSet<int> Eos) Geometry(string dir)
    {
        var genai = Path.Combine(dir, GenAiFolder.GenAiConfigFile);
        if (File.Exists(genai))
        {
            var model = JsonNode.Parse(File.ReadAllText(genai))!["model"]!;
            var decoder = model["decoder"]!;
            return (decoder["num_key_value_heads"]?.GetValue<int>(), decoder["head_size"]?.GetValue<int>(), model["context_length"]?.GetValue<int>(),
                Ids(model["eos_token_id"]));
        }
        var hf = Path.Combine(dir, "config.json");
        if (File.Exists(hf))
        {
            var c = LlamaConfig.Load(hf);
            var eos = c.EosTokenIds.ToHashSet();
            var generation = Path.Combine(dir, "generation_config.json");
            if (File.Exists(generation))
            {
                eos.UnionWith(Ids(JsonNode.Parse(File.ReadAllText(generation))?["eos_token_id"]));
            }
            return (c.NumKeyValueHeads, c.HeadDim, c.MaxPositionEmbeddings, eos);
        }
        return (null, null, null, []);
    }

    private static HashSet<int> Ids(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(x => x!.GetValue<int>()).ToHashSet(),
        JsonValue v => [v.GetValue<int>()],
        _ => [],
    };

    private static ModelFormatException Missing(string dir, string what) =>
        new($"{dir}: the decoder's KV cache has no fixed {what} and neither genai_config.json nor config.json gives it");

    /// <summary>The last position's logits as floats: (B,S,V) → (V).</summary>
    private static float[] LastRow(OrtValue logits)
    {
        var info = logits.GetTensorTypeAndShape();
        int vocab = (int)info.Shape[^1];
        int offset = (int)(info.ElementCount - vocab);
        var row = new float[vocab];
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                logits.GetTensorDataAsSpan<float>().Slice(offset, vocab).CopyTo(row);
                break;
            case TensorElementType.Float16:
                var h = logits.GetTensorDataAsSpan<Float16>().Slice(offset, vocab);
                for (int i = 0; i < vocab; i++)
                {
                    row[i] = h[i].ToFloat();
                }
                break;
            case TensorElementType.BFloat16:
                var b = logits.GetTensorDataAsSpan<BFloat16>().Slice(offset, vocab);
                for (int i = 0; i < vocab; i++)
                {
                    row[i] = b[i].ToFloat();
                }
                break;
            default:
                throw new InvalidDataException($"logits of type {info.ElementDataType}");
        }
        return row;
    }

    public void Dispose()
    {
        SessionFactory.Release(_session, _runtime);
        _ownedMemory?.Dispose();
        _adapter?.Dispose();
    }
}
