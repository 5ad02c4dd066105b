// The published artifacts of a job: a manifest (artifacts.json, written last) maps names a client asks
// for ("adapter", "merged", "metrics", "adapter.safetensors") to files. Only names in it are served, so
// a request can never address any other file.
using System.Text.Json;

namespace OnnxLora.Worker.Execution;

public static class ArtifactCatalog
{
    public const string ManifestFile = "artifacts.json";

    public static void WriteManifest(string artifactsDir, IReadOnlyDictionary<string, string> files) =>
        DurableFile.Write(Path.Combine(artifactsDir, ManifestFile), s => JsonSerializer.Serialize(s, files));

    public static IReadOnlyDictionary<string, string> Read(string artifactsDir)
    {
        var path = Path.Combine(artifactsDir, ManifestFile);
        return File.Exists(path)
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? []
            : new Dictionary<string, string>();
    }

    /// <summary>The file for <paramref name="name"/> (an artifact name or its file name), or null.</summary>
    public static string? Resolve(string artifactsDir, string name)
    {
        foreach (var (key, file) in Read(artifactsDir))
        {
            if (key == name || file == name)
            {
                return Path.Combine(artifactsDir, file);
            }
        }
        return null;
    }

    public static string ContentType(string file) => file switch
    {
        _ when file.EndsWith(".tar.gz", StringComparison.Ordinal) => "application/gzip",
        _ when file.EndsWith(".zip", StringComparison.Ordinal) => "application/zip",
        _ when file.EndsWith(".jsonl", StringComparison.Ordinal) => "application/x-ndjson",
        _ => "application/octet-stream",
    };
}
