// Validates a submitted job spec (JSON) into a JobSpec: unknown fields, wrong types and out-of-range
// hyperparameters are refused naming the field; the training config is the one `onnxlora train` reads
// (same keys, same checks), including its `runtime` group over the server's Worker:Runtime defaults, so the
// stored spec fixes the job's device, TF32 and threads; then it is held to the server's limits (JobLimits).
// It resolves paths but never opens a model or trains.
using System.Text.Json;
using OnnxLora.Training.Config;

namespace OnnxLora.Worker.Spec;

public static class JobSpecParser
{
    public const int MaxNoopDurationMs = 60_000;

    private static readonly HashSet<string> s_fields = ["kind", "model", "dataset", "config", "outputs", "merged_format", "duration_ms"];
    private static readonly HashSet<string> s_pathKeys = ["model", "data", "val_data", "output"];

    public static JobSpec Parse(string body, WorkerOptions options)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new JobSpecException("", $"body is not valid JSON: {e.Message.Split(" Path:")[0]}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new JobSpecException("", "body must be a JSON object");
            }
            foreach (var p in root.EnumerateObject())
            {
                if (!s_fields.Contains(p.Name))
                {
                    throw new JobSpecException(ErrorText.Quote(p.Name), $"unknown field '{ErrorText.Quote(p.Name)}'");
                }
            }
            string kind = Str(root, "kind") ?? JobSpec.Train;
            if (!JobSpec.Kinds.Contains(kind))
            {
                throw new JobSpecException("kind", $"kind '{ErrorText.Quote(kind)}' is unknown (expected {string.Join(", ", JobSpec.Kinds)})");
            }
            if (kind == JobSpec.Noop)
            {
                int ms = root.TryGetProperty("duration_ms", out var d) ? Int(d, "duration_ms") : 0;
                if (ms is < 0 or > MaxNoopDurationMs)
                {
                    throw new JobSpecException("duration_ms", $"duration_ms must be in [0, {MaxNoopDurationMs}], got {ms}");
                }
                return new JobSpec { Kind = kind, DurationMs = ms, Outputs = [] };
            }
            var outputs = Outputs(root);
            string format = Str(root, "merged_format") ?? "tar.gz";
            if (!JobSpec.ArchiveFormats.Contains(format))
            {
                throw new JobSpecException("merged_format", $"merged_format '{ErrorText.Quote(format)}' is unknown (expected tar.gz or zip)");
            }
            var model = PathRoots.Resolve(Str(root, "model"), options.EffectiveModelRoots, "model");
            var dataset = PathRoots.Resolve(Str(root, "dataset"), options.EffectiveDatasetRoots, "dataset");
            var config = Config(root, model, dataset, options.RuntimeDefaults());
            JobLimits.Check(config, dataset, options.Limits);
            return new JobSpec
            {
                Kind = kind, Model = model, Dataset = dataset, Config = TrainConfigLoader.ToJson(config), Outputs = outputs, MergedFormat = format,
            };
        }
    }

    private static TrainConfig Config(JsonElement root, string model, string dataset, TrainConfig defaults)
    {
        TrainConfig config = defaults;
        if (root.TryGetProperty("config", out var c))
        {
            if (c.ValueKind != JsonValueKind.Object)
            {
                throw new JobSpecException("config", "config must be an object");
            }
            foreach (var p in c.EnumerateObject())
            {
                if (s_pathKeys.Contains(p.Name))
                {
                    throw new JobSpecException("config." + p.Name, $"config.{p.Name} is not allowed here; the worker sets it (use the top-level model/dataset)");
                }
            }
            try
            {
                config = TrainConfigLoader.ParseJson(c.GetRawText(), "config", defaults);
            }
            catch (ConfigException e)
            {
                throw new JobSpecException("config." + e.Key, e.Message);
            }
        }
        config = config with { Model = model, Data = dataset, Output = null };
        try
        {
            config.Validate();
        }
        catch (ConfigException e)
        {
            throw new JobSpecException("config." + e.Key, "config: " + e.Message);
        }
        return config;
    }

    private static List<string> Outputs(JsonElement root)
    {
        if (!root.TryGetProperty("outputs", out var o))
        {
            return ["adapter", "metrics"];
        }
        if (o.ValueKind != JsonValueKind.Array)
        {
            throw new JobSpecException("outputs", "outputs must be an array of names");
        }
        var list = new List<string>();
        foreach (var e in o.EnumerateArray())
        {
            var name = e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new JobSpecException("outputs", "outputs must be strings");
            if (!JobSpec.OutputNames.Contains(name))
            {
                throw new JobSpecException("outputs", $"output '{ErrorText.Quote(name)}' is unknown (expected {string.Join(", ", JobSpec.OutputNames)})");
            }
            if (!list.Contains(name))
            {
                list.Add(name);
            }
        }
        if (list.Contains("merged") && !list.Contains("adapter"))
        {
            list.Insert(0, "adapter"); // the merge reads the adapter
        }
        return list;
    }

    private static string? Str(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new JobSpecException(name, $"{name} must be a string");

    private static int Int(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new JobSpecException(name, $"{name} must be an integer");
}
