// Saves derived graphs into an artifacts folder without copying the base weights: the base
// model's side file is linked into the folder (symlink, or hard link where allowed) and the
// graph references it by that name, so ORT resolves every weight relative to the folder.
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;

namespace OnnxLora.Training.Artifacts;

public static class ArtifactWriter
{
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
            if (File.Exists(link) || new FileInfo(link).LinkTarget is not null)
            {
                File.Delete(link);
            }
            File.CreateSymbolicLink(link, src);
            links[src] = name;
        }
        var stem = Path.GetFileNameWithoutExtension(path);
        ModelWriter.Save(model, path, new ExternalDataOptions { DataFileName = stem + ".onnx.data", LinkedFiles = links });
    }
}
