// Reads a TrainConfig from YAML (.yaml/.yml, errors carry file:line) or JSON, applies command-line overrides
// ("lr=1e-4", "lora.r=8", "--lora-r 8" normalised by the caller to key/value), validates, and saves the effective
// config as snake_case JSON. Unknown keys and bad values fail with one line naming the key. Defaults come from
// the caller (e.g. the CLI's ONNXLORA_* mapping); the loader itself reads no environment.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OnnxLora.Onnx.Runtime;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace OnnxLora.Training.Config;

public static class TrainConfigLoader
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) }, // the names RuntimeNames reads
    };

    /// <summary>Keys whose value is a mapping of free-form keys (ORT config keys contain dots) to strings.</summary>
    private static readonly HashSet<string> s_maps = ["runtime.session_config"];

    private static readonly Dictionary<string, Func<TrainConfig, ConfigValue, string, TrainConfig>> s_setters = new()
    {
        ["model"] = (c, v, k) => c with { Model = Str(v, k) },
        ["data"] = (c, v, k) => c with { Data = Str(v, k) },
        ["val_data"] = (c, v, k) => c with { ValData = Str(v, k) },
        ["val_split"] = (c, v, k) => c with { ValSplit = Num(v, k) },
        ["format"] = (c, v, k) => c with { Format = Str(v, k) ?? "auto" },
        ["chat_template"] = (c, v, k) => c with { ChatTemplate = Str(v, k) },
        ["output"] = (c, v, k) => c with { Output = Str(v, k) },
        ["lora.r"] = (c, v, k) => c with { Lora = c.Lora with { R = Int(v, k) } },
        ["lora.alpha"] = (c, v, k) => c with { Lora = c.Lora with { Alpha = Num(v, k) } },
        ["lora.dropout"] = (c, v, k) => c with { Lora = c.Lora with { Dropout = Num(v, k) } },
        ["lora.targets"] = (c, v, k) => c with { Lora = c.Lora with { Targets = List(v, k) } },
        ["lora.target_regex"] = (c, v, k) => c with { Lora = c.Lora with { TargetRegex = Str(v, k) } },
        ["lora.layers"] = (c, v, k) => c with { Lora = c.Lora with { Layers = v.IsNull ? null : List(v, k).Select(s => ParseInt(s, v, k)).ToArray() } },
        ["lora.rslora"] = (c, v, k) => c with { Lora = c.Lora with { Rslora = Bool(v, k) } },
        ["full_fine_tune"] = (c, v, k) => c with { FullFineTune = Bool(v, k) },
        ["lr"] = (c, v, k) => c with { Lr = Num(v, k) },
        ["schedule"] = (c, v, k) => c with { Schedule = Str(v, k) ?? "" },
        ["warmup_steps"] = (c, v, k) => c with { WarmupSteps = Int(v, k) },
        ["epochs"] = (c, v, k) => c with { Epochs = Int(v, k) },
        ["max_steps"] = (c, v, k) => c with { MaxSteps = v.IsNull ? null : Int(v, k) },
        ["batch_size"] = (c, v, k) => c with { BatchSize = Int(v, k) },
        ["grad_accum"] = (c, v, k) => c with { GradAccum = Int(v, k) },
        ["max_seq_len"] = (c, v, k) => c with { MaxSeqLen = Int(v, k) },
        ["packing"] = (c, v, k) => c with { Packing = Bool(v, k) },
        ["weight_decay"] = (c, v, k) => c with { WeightDecay = Num(v, k) },
        ["beta1"] = (c, v, k) => c with { Beta1 = Num(v, k) },
        ["beta2"] = (c, v, k) => c with { Beta2 = Num(v, k) },
        ["eps"] = (c, v, k) => c with { Eps = Num(v, k) },
        ["max_grad_norm"] = (c, v, k) => c with { MaxGradNorm = v.IsNull ? 0 : Num(v, k) },
        ["seed"] = (c, v, k) => c with { Seed = Int(v, k) },
        ["eval_every"] = (c, v, k) => c with { EvalEvery = Int(v, k) },
        ["save_every"] = (c, v, k) => c with { SaveEvery = Int(v, k) },
        ["keep_last"] = (c, v, k) => c with { KeepLast = Int(v, k) },
        // before the runtime group existed; config.json now writes runtime.device
        ["device"] = (c, v, k) => c with { Runtime = c.Runtime with { Device = Enum<Device>(v, k) } },
        ["log_every"] = (c, v, k) => c with { LogEvery = Int(v, k) },
        ["memory.recompute_attention"] = (c, v, k) => c with { Memory = c.Memory with { RecomputeAttention = Bool(v, k) } },
        ["memory.attention_blocks"] = (c, v, k) => c with { Memory = c.Memory with { AttentionBlocks = Int(v, k) } },
        ["memory.loss_chunks"] = (c, v, k) => c with { Memory = c.Memory with { LossChunks = v.IsNull ? null : Int(v, k) } },
        ["memory.recompute_logits"] = (c, v, k) => c with { Memory = c.Memory with { RecomputeLogits = Bool(v, k) } },
        ["memory.weight_views"] = (c, v, k) => c with { Memory = c.Memory with { WeightViews = v.IsNull ? null : Bool(v, k) } },
        ["runtime.device"] = (c, v, k) => c with { Runtime = c.Runtime with { Device = Enum<Device>(v, k) } },
        ["runtime.tf32"] = (c, v, k) => c with { Runtime = c.Runtime with { Tf32 = Bool(v, k) } },
        ["runtime.cpu_arena"] = (c, v, k) => c with { Runtime = c.Runtime with { CpuArena = Bool(v, k) } },
        ["runtime.cuda_arena"] = (c, v, k) => c with { Runtime = c.Runtime with { CudaArena = Enum<CudaArenaStrategy>(v, k) } },
        ["runtime.threads"] = (c, v, k) => c with { Runtime = c.Runtime with { Threads = Int(v, k) } },
        ["runtime.memory_pattern"] = (c, v, k) => c with { Runtime = c.Runtime with { MemoryPattern = Bool(v, k) } },
        ["runtime.spinning"] = (c, v, k) => c with { Runtime = c.Runtime with { Spinning = Bool(v, k) } },
        ["runtime.profile_prefix"] = (c, v, k) => c with { Runtime = c.Runtime with { ProfilePrefix = Str(v, k) } },
        ["runtime.session_config"] = (c, v, k) => c with { Runtime = c.Runtime with { SessionConfig = Map(v, k) } },
    };

    /// <summary>Nested groups of keys ("lora" for "lora.r", "memory" for "memory.loss_chunks").</summary>
    private static bool IsGroup(string key) => s_setters.Keys.Any(k => k.StartsWith(key + ".", StringComparison.Ordinal));

    /// <summary>All keys in dotted form ("lr", "lora.r").</summary>
    public static IReadOnlyCollection<string> Keys => s_setters.Keys;

    /// <summary>
    /// Reads <paramref name="path"/> over <paramref name="defaults"/> (null: the built-in defaults) and applies
    /// <paramref name="overrides"/> on top, then validates.
    /// </summary>
    public static TrainConfig Load(string? path, IEnumerable<KeyValuePair<string, string>>? overrides = null, TrainConfig? defaults = null)
    {
        var locations = new Dictionary<string, string>();
        TrainConfig config = defaults ?? new();
        if (path is not null)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path}: config file not found", path);
            }
            string name = Path.GetFileName(path);
            string text = File.ReadAllText(path);
            bool json = Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase);
            config = Apply(config, json ? ReadJson(text, name) : ReadYaml(text, name), locations);
        }
        config = ApplyOverrides(config, overrides ?? [], locations);
        try
        {
            config.Validate();
        }
        catch (ConfigException e) when (locations.TryGetValue(e.Key, out string? where))
        {
            throw new ConfigException(e.Key, $"{where}: {e.Message}");
        }
        return config;
    }

    /// <summary>Parses YAML text without validating (missing model/data are allowed here).</summary>
    public static TrainConfig ParseYaml(string yaml, string name = "config.yaml") =>
        Apply(new TrainConfig(), ReadYaml(yaml, name), new Dictionary<string, string>());

    /// <summary>Parses JSON text over <paramref name="defaults"/> (null: the built-in defaults) without validating.</summary>
    public static TrainConfig ParseJson(string json, string name = "config.json", TrainConfig? defaults = null) =>
        Apply(defaults ?? new TrainConfig(), ReadJson(json, name), new Dictionary<string, string>());

    /// <summary>
    /// Applies "key=value" style overrides (keys "lr", "lora.r", "lora_r", "--lora-r"); lists are comma-separated,
    /// runtime.session_config is "key=value;key=value".
    /// </summary>
    public static TrainConfig ApplyOverrides(TrainConfig config, IEnumerable<KeyValuePair<string, string>> overrides) =>
        ApplyOverrides(config, overrides, new Dictionary<string, string>());

    public static string ToJson(TrainConfig config) => JsonSerializer.Serialize(config, s_json);

    /// <summary>Writes the effective config as JSON (e.g. run/config.json).</summary>
    public static void Save(TrainConfig config, string path)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(path);
        File.WriteAllText(path, ToJson(config) + "\n");
    }

    private static TrainConfig ApplyOverrides(
        TrainConfig config, IEnumerable<KeyValuePair<string, string>> overrides, Dictionary<string, string> locations)
    {
        var entries = new List<(string, ConfigValue)>();
        foreach (var (raw, value) in overrides)
        {
            string key = raw.TrimStart('-').Replace('-', '_');
            if (!s_setters.ContainsKey(key) && key.StartsWith("lora_", StringComparison.Ordinal))
            {
                key = "lora." + key["lora_".Length..];
            }
            string where = "--" + raw.TrimStart('-');
            bool isList = key is "lora.targets" or "lora.layers";
            entries.Add((key, isList
                ? new ConfigValue(null, value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), where)
                : s_maps.Contains(key) ? new ConfigValue(null, null, where, ParseMap(value, key, where))
                : new ConfigValue(value, null, where)));
        }
        return Apply(config, entries, locations);
    }

    private static TrainConfig Apply(
        TrainConfig config, IEnumerable<(string Key, ConfigValue Value)> entries, Dictionary<string, string> locations)
    {
        foreach (var (key, value) in entries)
        {
            if (!s_setters.TryGetValue(key, out var set))
            {
                throw new ConfigException(key, $"{value.Location}: unknown key '{key}'");
            }
            config = set(config, value, key);
            locations[key] = value.Location;
        }
        return config;
    }

    private static List<(string, ConfigValue)> ReadYaml(string text, string name)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException("", $"{name}:{e.Start.Line}: invalid YAML: {e.Message.Split('\n')[0]}");
        }
        var entries = new List<(string, ConfigValue)>();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return entries;
        }
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ConfigException("", $"{name}:1: config must be a mapping of key: value");
        }
        FlattenYaml(root, "", name, entries);
        return entries;
    }

    private static void FlattenYaml(YamlMappingNode map, string prefix, string name, List<(string, ConfigValue)> entries)
    {
        foreach (var (k, v) in map.Children)
        {
            string key = prefix + ((YamlScalarNode)k).Value;
            string where = $"{name}:{k.Start.Line}";
            switch (v)
            {
                case YamlMappingNode child when IsGroup(key):
                    FlattenYaml(child, key + ".", name, entries);
                    break;
                case YamlMappingNode child when s_maps.Contains(key):
                    entries.Add((key, new ConfigValue(null, null, where, child.Children.Select(kv => new KeyValuePair<string, string?>(
                        ((YamlScalarNode)kv.Key).Value ?? "",
                        kv.Value is YamlScalarNode s ? s.Value : throw new ConfigException(key, $"{name}:{kv.Value.Start.Line}: {key} must map keys to plain values"))).ToList())));
                    break;
                case YamlMappingNode:
                    throw new ConfigException(key, s_setters.ContainsKey(key)
                        ? $"{where}: {key} must be a value, not a mapping"
                        : $"{where}: unknown key '{key}'");
                case YamlSequenceNode seq:
                    entries.Add((key, new ConfigValue(null, seq.Children.Select(c => c is YamlScalarNode s
                        ? s.Value ?? ""
                        : throw new ConfigException(key, $"{name}:{c.Start.Line}: {key} must be a list of values")).ToList(), where)));
                    break;
                case YamlScalarNode s:
                    bool isNull = s.Style == ScalarStyle.Plain && s.Value is null or "" or "~" or "null" or "Null" or "NULL";
                    entries.Add((key, new ConfigValue(isNull ? null : s.Value, null, where)));
                    break;
            }
        }
    }

    private static List<(string, ConfigValue)> ReadJson(string text, string name)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ConfigException("", $"{name}:{(e.LineNumber ?? 0) + 1}: invalid JSON: {e.Message.Split(" Path:")[0]}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ConfigException("", $"{name}: config must be a JSON object");
            }
            var entries = new List<(string, ConfigValue)>();
            FlattenJson(doc.RootElement, "", name, entries);
            return entries;
        }
    }

    private static void FlattenJson(JsonElement obj, string prefix, string name, List<(string, ConfigValue)> entries)
    {
        foreach (JsonProperty p in obj.EnumerateObject())
        {
            string key = prefix + p.Name;
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Object when IsGroup(key):
                    FlattenJson(p.Value, key + ".", name, entries);
                    break;
                case JsonValueKind.Object when s_maps.Contains(key):
                    entries.Add((key, new ConfigValue(null, null, name, p.Value.EnumerateObject()
                        .Select(e => new KeyValuePair<string, string?>(e.Name, JsonScalar(e.Value, key, name))).ToList())));
                    break;
                case JsonValueKind.Object:
                    throw new ConfigException(key, s_setters.ContainsKey(key)
                        ? $"{name}: {key} must be a value, not an object"
                        : $"{name}: unknown key '{key}'");
                case JsonValueKind.Array:
                    entries.Add((key, new ConfigValue(null, p.Value.EnumerateArray().Select(e => JsonScalar(e, key, name)!).ToList(), name)));
                    break;
                case JsonValueKind.Null:
                    entries.Add((key, new ConfigValue(null, null, name)));
                    break;
                default:
                    entries.Add((key, new ConfigValue(JsonScalar(p.Value, key, name), null, name)));
                    break;
            }
        }
    }

    private static string? JsonScalar(JsonElement e, string key, string name) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => null,
        _ => throw new ConfigException(key, $"{name}: {key} must hold plain values"),
    };

    private static string? Str(ConfigValue v, string key) =>
        v.List is null && v.Map is null ? v.Scalar : throw new ConfigException(key, $"{v.Location}: {key} must be a single value, not a {(v.Map is null ? "list" : "mapping")}");

    private static IReadOnlyList<string> List(ConfigValue v, string key) =>
        v.Map is not null ? throw new ConfigException(key, $"{v.Location}: {key} must be a list, not a mapping")
        : v.List ?? (v.Scalar is null ? throw new ConfigException(key, $"{v.Location}: {key} must not be null") : [v.Scalar]);

    private static string Scalar(ConfigValue v, string key) =>
        Str(v, key) ?? throw new ConfigException(key, $"{v.Location}: {key} must not be null");

    private static int Int(ConfigValue v, string key) => ParseInt(Scalar(v, key), v, key);

    private static int ParseInt(string s, ConfigValue v, string key) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x)
            ? x
            : throw new ConfigException(key, $"{v.Location}: {key} must be an integer, got '{s}'");

    private static double Num(ConfigValue v, string key)
    {
        string s = Scalar(v, key);
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double x)
            ? x
            : throw new ConfigException(key, $"{v.Location}: {key} must be a number, got '{s}'");
    }

    private static T Enum<T>(ConfigValue v, string key) where T : struct, System.Enum
    {
        string s = Scalar(v, key);
        return RuntimeNames.TryParse<T>(s, out var value) ? value : throw new ConfigException(key, $"{v.Location}: {RuntimeNames.Unknown<T>(s, key)}");
    }

    /// <summary>A mapping (YAML/JSON object, or "k=v;k=v" from a flag) to an ordinal dictionary; null clears it.</summary>
    private static IReadOnlyDictionary<string, string> Map(ConfigValue v, string key)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        if (v.IsNull)
        {
            return d;
        }
        if (v.Map is null)
        {
            throw new ConfigException(key, $"{v.Location}: {key} must be a mapping of key: value");
        }
        foreach (var (k, value) in v.Map)
        {
            if (string.IsNullOrWhiteSpace(k))
            {
                throw new ConfigException(key, $"{v.Location}: {key} has an empty key");
            }
            d[k] = value ?? throw new ConfigException(key, $"{v.Location}: {key}.{k} must not be null");
        }
        return d;
    }

    private static List<KeyValuePair<string, string?>> ParseMap(string text, string key, string where) =>
        text.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(entry =>
        {
            var kv = entry.Split('=', 2);
            return kv.Length == 2
                ? new KeyValuePair<string, string?>(kv[0].Trim(), kv[1].Trim())
                : throw new ConfigException(key, $"{where}: {key} entry '{entry}' must look like key=value");
        }).ToList();

    private static bool Bool(ConfigValue v, string key) => Scalar(v, key).ToLowerInvariant() switch
    {
        "true" or "yes" or "on" or "1" => true,
        "false" or "no" or "off" or "0" => false,
        string s => throw new ConfigException(key, $"{v.Location}: {key} must be true or false, got '{s}'"),
    };
}
