// A resumable checkpoint: parameters and both AdamW moments (safetensors), the optimizer step
// and the data loader's cursor (state.json). Written into a temp folder and renamed, so a crash
// mid-write leaves the previous checkpoint intact; only the newest keep_last are kept.
using System.Globalization;
using System.Text.Json;
using OnnxLora.Models;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Run;

public sealed record Checkpoint(int Step, long OptimizerStep, DataLoaderState Loader,
    IReadOnlyDictionary<string, float[]> Parameters, IReadOnlyDictionary<string, float[]> ExpAvg, IReadOnlyDictionary<string, float[]> ExpAvgSq)
{
    public const string Folder = "checkpoints";

    public static string PathFor(string runDir, int step) =>
        System.IO.Path.Combine(runDir, Folder, "step-" + step.ToString("D8", CultureInfo.InvariantCulture));

    public void Save(string runDir, IReadOnlyDictionary<string, long[]> shapes, int keepLast)
    {
        var target = PathFor(runDir, Step);
        var temp = AtomicFolder.CreateTempBeside(target);
        try
        {
            var tensors = new List<SafetensorsTensor>();
            foreach (var (name, data) in Parameters)
            {
                tensors.Add(SafetensorsTensor.FromFloat32(name, data, shapes[name]));
                tensors.Add(SafetensorsTensor.FromFloat32(name + ".exp_avg", ExpAvg[name], shapes[name]));
                tensors.Add(SafetensorsTensor.FromFloat32(name + ".exp_avg_sq", ExpAvgSq[name], shapes[name]));
            }
            SafetensorsWriter.Write(System.IO.Path.Combine(temp, "state.safetensors"), tensors, null);
            var state = new Dictionary<string, object>
            {
                ["step"] = Step,
                ["optimizer_step"] = OptimizerStep,
                ["loader_epoch"] = Loader.Epoch,
                ["loader_position"] = Loader.Position,
                ["loader_rng_state"] = Loader.RngState.ToString(CultureInfo.InvariantCulture),
            };
            File.WriteAllText(System.IO.Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state));
            AtomicFolder.Replace(temp, target);
        }
        catch
        {
            AtomicFolder.TryDelete(temp);
            throw;
        }
        foreach (var old in List(runDir).SkipLast(Math.Max(1, keepLast)))
        {
            AtomicFolder.TryDelete(old);
        }
    }

    /// <summary>Complete checkpoint folders, oldest first (temp folders of interrupted writes are ignored).</summary>
    public static IReadOnlyList<string> List(string runDir)
    {
        var dir = System.IO.Path.Combine(runDir, Folder);
        if (!Directory.Exists(dir))
        {
            return [];
        }
        return Directory.GetDirectories(dir, "step-*")
            .Where(d => File.Exists(System.IO.Path.Combine(d, "state.json")))
            .Order(StringComparer.Ordinal).ToList();
    }

    public static Checkpoint Load(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(folder, "state.json")));
        var r = doc.RootElement;
        using var file = SafetensorsFile.Open(System.IO.Path.Combine(folder, "state.safetensors"));
        var p = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var m = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var v = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var name in file.Names)
        {
            if (name.EndsWith(".exp_avg_sq", StringComparison.Ordinal))
            {
                v[name[..^".exp_avg_sq".Length]] = file.ReadAsFloat32(name);
            }
            else if (name.EndsWith(".exp_avg", StringComparison.Ordinal))
            {
                m[name[..^".exp_avg".Length]] = file.ReadAsFloat32(name);
            }
            else
            {
                p[name] = file.ReadAsFloat32(name);
            }
        }
        var loader = new DataLoaderState(r.GetProperty("loader_epoch").GetInt32(), r.GetProperty("loader_position").GetInt32(),
            ulong.Parse(r.GetProperty("loader_rng_state").GetString()!, CultureInfo.InvariantCulture));
        return new Checkpoint(r.GetProperty("step").GetInt32(), r.GetProperty("optimizer_step").GetInt64(), loader, p, m, v);
    }
}
