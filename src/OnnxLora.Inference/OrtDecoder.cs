// Token generation on plain ONNX Runtime with a KV cache, for the GenAI-layout model: the CUDA
// generation path (ORT GenAI's CUDA package is not available), and the same loop on CPU for tests.
// Each step binds input_ids / attention_mask from the host, past_key_values.N.* from the previous
// step's present.N.* (left where ORT put them: device memory on CUDA), and copies only the last
// logits row to the host for greedy / top-k / top-p sampling (GenerationOptions, as GenAI reads them).
// It does not do beam search, batching or adapters (ORT ignores LoRA adapters under IOBinding);
// the cache grows by reallocation (past_present_share_buffer = false, as our importer configures).
// Its session comes from SessionFactory, so TF32 and the arenas follow the same RuntimeOptions as training.
// B=1 (batch), S=new tokens this step, P=past length, T=P+S, K=kv heads, d=head dim, V=vocab
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxLora.Models;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Inference;

public sealed class OrtDecoder : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RuntimeOptions _runtime;
    private readonly OrtMemoryInfo _cacheMemory;
    private readonly OrtMemoryInfo? _ownedMemory;
    private readonly RunOptions _run = new();
    private readonly int _layers, _kvHeads, _headDim, _contextLength;
    private readonly HashSet<int> _eos;
    private readonly TensorElementType _cacheType;

    /// <param name="modelDir">a GenAI folder (genai_config.json + model).</param>
    /// <param name="runtime">device (Cuda needs the -p:OnnxLoraCuda=true build) and session settings.</param>
    public OrtDecoder(string modelDir, RuntimeOptions runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var configPath = Path.Combine(modelDir, "genai_config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"{modelDir}: genai_config.json not found (not an ORT GenAI model folder)");
        }
        var model = JsonNode.Parse(File.ReadAllText(configPath))!["model"]!;
        var decoder = model["decoder"]!;
        _layers = decoder["num_hidden_layers"]!.GetValue<int>();
        _kvHeads = decoder["num_key_value_heads"]!.GetValue<int>();
        _headDim = decoder["head_size"]!.GetValue<int>();
        _contextLength = model["context_length"]?.GetValue<int>() ?? int.MaxValue;
        _eos = model["eos_token_id"] switch
        {
            JsonArray a => a.Select(x => x!.GetValue<int>()).ToHashSet(),
            JsonNode n => [n.GetValue<int>()],
            null => [],
        };
        _runtime = runtime;
        _session = SessionFactory.Create(Path.Combine(modelDir, decoder["filename"]!.GetValue<string>()), runtime);
        if (runtime.Device == Device.Cuda)
        {
            _ownedMemory = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default);
            _cacheMemory = _ownedMemory;
        }
        else
        {
            _cacheMemory = OrtMemoryInfo.DefaultInstance;
        }
        _cacheType = _session.InputMetadata[GenAiNames.PastKey(0)].ElementDataType;
    }

    public Device Device => _runtime.Device;

    /// <summary>Yields each new token id (prompt excluded); stops after an EOS token (yielded) or MaxNewTokens.</summary>
    public IEnumerable<int> GenerateTokens(int[] prompt, GenerationOptions o)
    {
        if (prompt.Length == 0)
        {
            throw new ArgumentException("generation needs a non-empty prompt");
        }
        var random = o.Seed is { } seed ? new Random(seed) : new Random();
        using var binding = _session.CreateIoBinding();
        var empty = new List<OrtValue>();
        IDisposableReadOnlyCollection<OrtValue>? previous = null;
        long[] ids = [.. prompt.Select(t => (long)t)];
        int total = prompt.Length;
        try
        {
            // P=0 at the start: an empty host cache (B,K,0,d) of the model's dtype
            for (int i = 0; i < 2 * _layers; i++)
            {
                empty.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, _cacheType, [1, _kvHeads, 0, _headDim]));
            }
            for (int produced = 0; produced < o.MaxNewTokens && total <= _contextLength; produced++)
            {
                using var inputIds = OrtValue.CreateTensorValueFromMemory(ids, [1, ids.Length]);    // (B,S)
                var mask = new long[total];
                Array.Fill(mask, 1L);
                using var attention = OrtValue.CreateTensorValueFromMemory(mask, [1, total]);       // (B,T)
                binding.ClearBoundInputs();
                binding.ClearBoundOutputs();
                binding.BindInput(GenAiNames.InputIds, inputIds);
                binding.BindInput(GenAiNames.AttentionMask, attention);
                for (int l = 0; l < _layers; l++)
                {
                    // past ← last step's present, in place on the device (outputs 1.. of the previous run)
                    binding.BindInput(GenAiNames.PastKey(l), previous is null ? empty[2 * l] : previous[1 + 2 * l]);
                    binding.BindInput(GenAiNames.PastValue(l), previous is null ? empty[2 * l + 1] : previous[2 + 2 * l]);
                }
                binding.BindOutputToDevice(GenAiNames.Logits, OrtMemoryInfo.DefaultInstance); // (B,S,V) on the host
                for (int l = 0; l < _layers; l++)
                {
                    binding.BindOutputToDevice(GenAiNames.PresentKey(l), _cacheMemory);   // (B,K,T,d) stays on the device
                    binding.BindOutputToDevice(GenAiNames.PresentValue(l), _cacheMemory);
                }
                _session.RunWithBinding(_run, binding);
                binding.SynchronizeBoundOutputs();
                var outputs = binding.GetOutputValues();
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
                ids = [next];
                total++;
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
        _run.Dispose();
    }
}
