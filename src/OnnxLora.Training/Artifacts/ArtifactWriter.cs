// Saves derived graphs into an artifacts folder without copying the base weights: the base
// model's side file is hard-linked into the folder and the graph references it by that name.
// ORT rejects symlinks that leave the model folder, so across file systems (where a hard link is
// impossible) the side file is copied once, with a warning.
using System.Runtime.InteropServices;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Artifacts;

public static partial class ArtifactWriter
{
    /// <summary>Called when a base side file had to be copied instead of linked.</summary>
    public static Action<string>? Warn { get; set; } = m => Console.Error.WriteLine("warning: " + m);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Link(string existing, string created);

    public static void Save(Model model, string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var links = new Dictionary<string, string>(StringComparer.Ordinal);
        int k = 0;
        foreach (var src in model.Graph.Initializers.Values.Select(i => i.Data).OfType<ExternalTensorData>().Select(e => e.FilePath).Distinct())
        {
            if (Path.GetDirectoryName(src) == dir)
            {
                continue;
            }
            var name = k == 0 ? "base.onnx.data" : $"base{k}.onnx.data";
            k++;
            var link = Path.Combine(dir, name);
            if (File.Exists(link))
            {
                Onnx.Ir.MappedFile.Evict(link);
                File.Delete(link);
            }
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() || Link(src, link) != 0)
            {
                Warn?.Invoke($"cannot hard-link {src} into {dir} (other file system?); copying it");
                File.Copy(src, link, overwrite: true);
            }
            links[src] = name;
        }
        var stem = Path.GetFileNameWithoutExtension(path);
        ModelWriter.Save(model, path, new ExternalDataOptions { DataFileName = stem + ".onnx.data", LinkedFiles = links });
    }
}
