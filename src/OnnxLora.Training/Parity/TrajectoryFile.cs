// A recorded optimisation trajectory (../shared/fixtures/tiny-llama/trajectory.json layout):
// AdamW hyperparameters, the batches of each step and the loss the peer reported before each update.
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxLora.Autodiff.Optim;

namespace OnnxLora.Training.Parity;

public sealed record TrajectoryStep(long[] InputIds, long[] AttentionMask, long[] Labels, int Batch, int Time);

public sealed record TrajectoryFile(AdamWOptions AdamW, float LearningRate, IReadOnlyList<TrajectoryStep> Steps, float[] Losses)
{
    public static TrajectoryFile Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: trajectory file not found", path);
        }
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}: invalid JSON ({e.Message})");
        }
        return Parse(root, path);
    }

    /// <summary>
    /// Layout: lr, betas, eps, weight_decay, batches (a list of (B,T) input_ids), losses, and labels —
    /// either a list of (B,T) label rows per batch, or the fixture's sentence "input_ids with the
    /// first N positions set to -100".
    /// </summary>
    private static TrajectoryFile Parse(JsonObject root, string path)
    {
        JsonNode Need(string key) =>
            root[key] ?? throw new InvalidDataException($"{path}: missing key '{key}' (keys present: {string.Join(", ", root.Select(kv => kv.Key))})");

        float lr = (float)Need("lr").GetValue<double>();
        var betas = root["betas"] as JsonArray;
        var adamW = new AdamWOptions(
            Beta1: betas is null ? 0.9f : (float)betas[0]!.GetValue<double>(),
            Beta2: betas is null ? 0.999f : (float)betas[1]!.GetValue<double>(),
            Epsilon: (float)(root["eps"]?.GetValue<double>() ?? 1e-8),
            WeightDecay: (float)(root["weight_decay"]?.GetValue<double>() ?? 0.01));
        var batches = Need("batches") as JsonArray ?? throw new InvalidDataException($"{path}: 'batches' must be a list");
        var lossNode = Need("losses") as JsonArray ?? throw new InvalidDataException($"{path}: 'losses' must be a list");
        if (batches.Count == 0 || batches.Count != lossNode.Count)
        {
            throw new InvalidDataException($"{path}: {batches.Count} batches but {lossNode.Count} losses");
        }
        int ignoreFirst = 0;
        JsonArray? labelLists = null;
        switch (root["labels"])
        {
            case null:
                break;
            case JsonArray a:
                labelLists = a;
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                var m = System.Text.RegularExpressions.Regex.Match(v.GetValue<string>(), @"first (\d+) positions set to -100");
                if (!m.Success)
                {
                    throw new InvalidDataException($"{path}: 'labels' text is not understood: \"{v.GetValue<string>()}\"");
                }
                ignoreFirst = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                break;
            default:
                throw new InvalidDataException($"{path}: 'labels' must be a list or a description");
        }
        var list = new List<TrajectoryStep>();
        for (int s = 0; s < batches.Count; s++)
        {
            var ids = Rows(batches[s]!, path, $"batches[{s}]");
            int b = ids.Length, t = ids[0].Length;
            long[][] labels = labelLists is not null
                ? Rows(labelLists[s]!, path, $"labels[{s}]")
                : ids.Select(r => r.Select((x, i) => i < ignoreFirst ? -100L : x).ToArray()).ToArray();
            if (labels.Length != b || labels.Any(r => r.Length != t))
            {
                throw new InvalidDataException($"{path}: labels[{s}] does not match batches[{s}]' shape [{b},{t}]");
            }
            list.Add(new TrajectoryStep(ids.SelectMany(r => r).ToArray(), Enumerable.Repeat(1L, b * t).ToArray(),
                labels.SelectMany(r => r).ToArray(), b, t));
        }
        var losses = lossNode.Select(x => (float)x!.GetValue<double>()).ToArray();
        return new TrajectoryFile(adamW, lr, list, losses);
    }

    private static long[][] Rows(JsonNode node, string path, string where)
    {
        if (node is not JsonArray rows || rows.Count == 0 || rows.Any(r => r is not JsonArray))
        {
            throw new InvalidDataException($"{path}: '{where}' must be a non-empty list of lists of integers");
        }
        var result = rows.Select(r => ((JsonArray)r!).Select(x => x!.GetValue<long>()).ToArray()).ToArray();
        if (result.Any(r => r.Length != result[0].Length || r.Length == 0))
        {
            throw new InvalidDataException($"{path}: '{where}' rows have different lengths");
        }
        return result;
    }
}
