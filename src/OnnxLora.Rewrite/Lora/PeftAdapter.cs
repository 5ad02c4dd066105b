// A LoRA adapter in PEFT's on-disk format: adapter_config.json + adapter_model.safetensors with
// names like base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight, A (r,in), B (out,r).
// Reading validates the config and tensors; writing is atomic (temp folder, then rename).
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxLora.Models;
using OnnxLora.Onnx;
using OnnxLora.Onnx.Safetensors;

namespace OnnxLora.Rewrite.Lora;

public sealed class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    public required LoraSettings Settings { get; init; }

    /// <summary>PEFT parameter name → float32 values.</summary>
    public required IReadOnlyDictionary<string, (float[] Data, long[] Shape)> Tensors { get; init; }

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    public static PeftAdapter Load(string dir)
    {
        var configPath = Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath))
        {
            throw new ModelFormatException($"{dir}: {ConfigFile} not found (not a PEFT adapter folder)");
        }
        var cfg = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
            ?? throw new ModelFormatException($"{configPath}: not a JSON object");
        var peftType = cfg["peft_type"]?.GetValue<string>();
        if (peftType is not null && peftType != "LORA")
        {
            throw new ModelFormatException($"{configPath}: peft_type '{peftType}' is not LORA");
        }
        // PEFT reads a list as module names (suffix match) and a single string as a regex over the whole module path,
        // except the shorthand "all-linear".
        string? targetRegex = null;
        var targets = cfg["target_modules"] switch
        {
            JsonArray a => a.Select(x => x!.GetValue<string>()).ToArray(),
            JsonValue v when v.GetValue<string>() == TargetMatcher.AllLinear => [TargetMatcher.AllLinear],
            JsonValue => [],
            null => [.. Peft.ConfigFileTargets],
            _ => throw new ModelFormatException($"{configPath}: 'target_modules' must be a list of module names or a string"),
        };
        if (cfg["target_modules"] is JsonValue regex && targets.Length == 0)
        {
            targetRegex = regex.GetValue<string>();
        }
        // A missing key means what PEFT's LoraConfig means by it (Peft.ConfigFile*).
        var settings = new LoraSettings
        {
            Rank = cfg["r"]?.GetValue<int>() ?? Peft.ConfigFileRank,
            Alpha = cfg["lora_alpha"]?.GetValue<double>() ?? Peft.ConfigFileAlpha,
            Dropout = cfg["lora_dropout"]?.GetValue<double>() ?? Peft.ConfigFileDropout,
            UseRsLora = cfg["use_rslora"]?.GetValue<bool>() ?? Peft.ConfigFileRsLora,
            TargetModules = targets,
            TargetRegex = targetRegex,
            Layers = cfg["layers_to_transform"] is JsonArray layers ? layers.Select(x => x!.GetValue<int>()).ToArray() : null,
        };
        try
        {
            settings.Validate();
            _ = new TargetMatcher(settings); // an invalid regex fails here, naming the file
        }
        catch (BadInputException e)
        {
            throw new ModelFormatException($"{configPath}: {e.Message}");
        }
        var weightsPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(weightsPath))
        {
            throw new ModelFormatException($"{dir}: {WeightsFile} not found");
        }
        var tensors = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        using var file = SafetensorsFile.Open(weightsPath);
        foreach (var name in file.Names)
        {
            // PEFT may save with or without the adapter name (".default") in the key.
            var key = Peft.WithoutAdapterName(name);
            var info = file.GetInfo(name);
            tensors[key] = (file.ReadAsFloat32(name), info.Shape);
        }
        return new PeftAdapter { Settings = settings, Tensors = tensors, Metadata = file.Metadata };
    }

    /// <summary>Checks that every injected target has A (r,in) and B (out,r) and nothing is left over.</summary>
    public void CheckAgainst(IReadOnlyList<LoraTarget> targets, string source)
    {
        var unused = new HashSet<string>(Tensors.Keys, StringComparer.Ordinal);
        foreach (var t in targets)
        {
            Expect(t.A, [t.Rank, t.In]);
            Expect(t.B, [t.Out, t.Rank]);
            unused.Remove(t.A);
            unused.Remove(t.B);
        }
        if (unused.Count > 0)
        {
            throw new ModelFormatException($"{source}: adapter tensor '{unused.First()}' matches no target module in the model");
        }

        void Expect(string name, long[] shape)
        {
            if (!Tensors.TryGetValue(name, out var v))
            {
                throw new ModelFormatException($"{source}: adapter has no tensor '{name}'");
            }
            if (!v.Shape.SequenceEqual(shape))
            {
                throw new ModelFormatException(
                    $"{source}: tensor '{name}' has shape [{string.Join(",", v.Shape)}], the model needs [{string.Join(",", shape)}]");
            }
        }
    }

    public static void Save(string dir, LoraSettings s, IEnumerable<(string Name, float[] Data, long[] Shape)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, string? baseModel = null)
    {
        var temp = AtomicFolder.CreateTempBeside(dir);
        try
        {
            var list = tensors.Select(t => SafetensorsTensor.FromFloat32(t.Name, t.Data, t.Shape)).ToList();
            var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt" };
            SafetensorsWriter.Write(Path.Combine(temp, WeightsFile), list, meta);
            var cfg = new JsonObject
            {
                ["peft_type"] = "LORA",
                ["task_type"] = "CAUSAL_LM",
                ["r"] = s.Rank,
                ["lora_alpha"] = s.Alpha,
                ["lora_dropout"] = s.Dropout,
                ["use_rslora"] = s.UseRsLora,
                ["bias"] = "none",
                ["fan_in_fan_out"] = false,
                ["inference_mode"] = true,
                ["init_lora_weights"] = true,
                ["target_modules"] = s.TargetRegex is { } regex ? regex
                    : s.TargetModules is [TargetMatcher.AllLinear] ? TargetMatcher.AllLinear
                    : new JsonArray(s.TargetModules.Select(x => (JsonNode)x).ToArray()),
                ["base_model_name_or_path"] = baseModel,
                ["library_name"] = "onnxlora",
            };
            if (s.Layers is not null)
            {
                cfg["layers_to_transform"] = new JsonArray(s.Layers.Select(x => (JsonNode)x).ToArray());
            }
            File.WriteAllText(Path.Combine(temp, ConfigFile), cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            AtomicFolder.Replace(temp, dir);
        }
        catch
        {
            AtomicFolder.TryDelete(temp);
            throw;
        }
    }
}
