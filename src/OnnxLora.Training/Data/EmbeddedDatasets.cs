// Datasets shipped inside the assembly for the quickstart. pirate.jsonl: ~300 {"prompt","completion"} pairs,
// everyday questions answered in pirate speak (written once by tools/gen-pirate.sh and committed).
using System.Reflection;

namespace OnnxLora.Training.Data;

public static class EmbeddedDatasets
{
    public const string PirateResource = "OnnxLora.Training.Data.Embedded.pirate.jsonl";

    /// <summary>The pirate dataset's JSONL text.</summary>
    public static string Pirate()
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(PirateResource)
            ?? throw new InvalidOperationException($"embedded resource {PirateResource} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Writes the pirate dataset to <paramref name="path"/> (folders created) and returns the path.</summary>
    public static string WritePirate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }
        File.WriteAllText(path, Pirate());
        return path;
    }
}
